"""Run the sandbox in a child process (benchmarks and e2e tests must not share
the client's GIL)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading

_READY = re.compile(r"sandbox listening on (http://\S+)")


class SandboxProcess:
    """`SandboxProcess(["--size", "contacts=100000"]).start()` -> url; `.stop()`."""

    def __init__(self, args: list[str] | tuple[str, ...] = (), python: str = sys.executable,
                 startup_timeout: float = 60.0, env: dict | None = None):
        self.args = list(args)
        self.python = python
        self.startup_timeout = startup_timeout
        self.env = env
        self.proc: subprocess.Popen | None = None
        self.url: str | None = None

    def start(self) -> str:
        self.proc = subprocess.Popen(
            [self.python, "-m", "hubspot_assets_tests.sandbox", *self.args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={**os.environ, **(self.env or {})})
        found: list[str] = []

        def read_first_line():
            line = self.proc.stdout.readline()
            m = _READY.search(line or "")
            if m:
                found.append(m.group(1))

        reader = threading.Thread(target=read_first_line, daemon=True)
        reader.start()
        reader.join(self.startup_timeout)
        if not found:
            self.stop()
            err = self.proc.stderr.read() if self.proc.stderr else ""
            raise RuntimeError(f"sandbox process did not start: {err[-2000:]}")
        self.url = found[0]
        return self.url

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def stop(self, timeout: float = 10.0) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc:
            for stream in (self.proc.stdout, self.proc.stderr):
                if stream:
                    stream.close()

    def __enter__(self) -> "SandboxProcess":
        if self.url is None:
            self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
