"""Run the stand-in as a child process (tests, benchmarks, local stacks)."""

from __future__ import annotations

import selectors
import subprocess
import sys
from pathlib import Path

START_TIMEOUT_S = 30


class StandinProcess:
    """`python -m hubspot_assets_tests.mongo_standin` in a subprocess; `.uri` once started.

    A separate process, so Dagster run workers and other readers reach it
    exactly as they would reach a real server.
    """

    def __init__(self, port: int = 0, host: str = "127.0.0.1", data_dir: Path | None = None,
                 snapshot_seconds: float | None = None) -> None:
        self._args = [sys.executable, "-m", "hubspot_assets_tests.mongo_standin",
                      "--host", host, "--port", str(port)]
        if data_dir is not None:
            self._args += ["--data-dir", str(data_dir)]
        if snapshot_seconds is not None:
            self._args += ["--snapshot-seconds", str(snapshot_seconds)]
        self.process: subprocess.Popen | None = None
        self.uri: str | None = None

    def start(self, timeout: float = START_TIMEOUT_S) -> StandinProcess:
        self.process = subprocess.Popen(self._args, stdout=subprocess.PIPE, text=True)
        selector = selectors.DefaultSelector()
        selector.register(self.process.stdout, selectors.EVENT_READ)
        ready = selector.select(timeout)
        selector.close()
        line = self.process.stdout.readline().strip() if ready else ""
        if not line.startswith("mongodb://"):
            self.stop()
            raise RuntimeError(f"the MongoDB stand-in did not start (printed {line!r})")
        self.uri = line
        return self

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self, timeout: float = 15) -> int | None:
        """SIGTERM, then SIGKILL if it lingers; returns the exit code."""
        if self.process is None:
            return None
        self.process.terminate()
        try:
            code = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait()
        if self.process.stdout:
            self.process.stdout.close()
        self.process = None
        return code

    def __enter__(self) -> StandinProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
