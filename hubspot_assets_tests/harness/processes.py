"""Child processes that can be waited on, diagnosed and stopped without leaks.

Every child runs in its own session (so a Ctrl-C in the demo's terminal reaches
only the demo, which then stops the children in order), writes its output to a
log file, and carries a marker environment variable so that grandchildren that
escaped the process group (Dagster's run workers, code servers) can still be
found and ended.
"""

from __future__ import annotations

import atexit
import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import psutil
import requests

#: Environment variable set on every process a harness starts; its value names the stack.
MARKER_ENV = "HUBSPOT_ASSETS_STACK"


class ProcessFailed(RuntimeError):
    """A child exited early or did not become ready in time."""


def _reset_signals() -> None:
    # Dagster maps SIGTERM to its SIGINT handler; a child that inherits an
    # ignored SIGINT (nohup, some CI shells) would then ignore SIGTERM as well.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


class ManagedProcess:
    """One child process with a log file, readiness checks and a clean stop."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        env: Mapping[str, str],
        log_dir: Path,
        cwd: Path | None = None,
    ):
        self.name = name
        self.argv = list(argv)
        self.env = dict(env)
        self.cwd = cwd
        self.log_path = Path(log_dir) / f"{name}.log"
        self.popen: subprocess.Popen | None = None
        self._log_start = 0

    def start(self) -> ManagedProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            # A kept working directory keeps earlier sessions' logs: read only this one's.
            self._log_start = log.tell()
            self.popen = subprocess.Popen(
                self.argv,
                env=self.env,
                cwd=self.cwd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_reset_signals,
            )
        # A child in its own session outlives an interrupted parent: stop it at exit.
        atexit.register(self.stop)
        return self

    @property
    def pid(self) -> int:
        assert self.popen is not None, f"{self.name} was never started"
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def log_text(self) -> str:
        """What this process wrote since `start()` (the file may hold earlier runs' output)."""
        try:
            with open(self.log_path, "rb") as log:
                log.seek(self._log_start)
                return log.read().decode(errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, lines: int = 60) -> str:
        tail = self.log_text().splitlines()[-lines:]
        return f"--- last {len(tail)} lines of {self.log_path} ---\n" + "\n".join(tail)

    def wait_until(self, ready: Callable[[], object], *, timeout: float, what: str,
                   interval: float = 0.25) -> object:
        """Polls `ready` until it returns something truthy; fails if the child dies first."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                result = ready()
            except Exception:  # not ready yet: connection refused, partial output
                result = None
            if result:
                return result
            if not self.alive():
                code = self.popen.returncode if self.popen else None
                raise ProcessFailed(
                    f"{self.name} exited with {code} before {what}\n{self.log_tail()}"
                )
            if time.monotonic() > deadline:
                raise ProcessFailed(
                    f"{self.name}: no {what} within {timeout:.0f}s\n{self.log_tail()}"
                )
            time.sleep(interval)

    def wait_http(self, url: str, *, timeout: float) -> None:
        """Waits until GET `url` answers 200."""

        def ok() -> bool:
            return requests.get(url, timeout=2).status_code == 200

        self.wait_until(ok, timeout=timeout, what=f"answer from {url}")

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM to the child, then its group and known descendants; SIGKILL what stays."""
        if self.popen is None:
            return
        atexit.unregister(self.stop)
        descendants = _descendants(self.pid)
        if self.alive():
            _signal_pid(self.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                pass
        # The child's own group (its session) and anything it had spawned.
        _signal_group(self.pid, signal.SIGTERM)
        for proc in descendants:
            _terminate(proc)
        _wait_gone(descendants, timeout=5.0)
        _signal_group(self.pid, signal.SIGKILL)
        for proc in descendants:
            _kill(proc)
        if self.alive():
            self.popen.kill()
        self.popen.wait(timeout=10)
        _wait_gone(descendants, timeout=2.0)  # SIGKILL is delivered asynchronously


def _descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        return []


def _signal_pid(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _running(proc: psutil.Process) -> bool:
    # A zombie has exited; only its parent (not us) can reap it.
    try:
        return proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _wait_gone(procs: list[psutil.Process], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while any(_running(p) for p in procs) and time.monotonic() < deadline:
        time.sleep(0.1)


def _terminate(proc: psutil.Process) -> None:
    try:
        proc.terminate()
    except psutil.Error:
        pass


def _kill(proc: psutil.Process) -> None:
    try:
        proc.kill()
    except psutil.Error:
        pass


def marked_processes(stack_id: str) -> list[psutil.Process]:
    """Processes still running with this stack's marker in their environment."""
    found = []
    for proc in psutil.process_iter(["pid"]):
        if proc.pid == os.getpid():
            continue
        try:
            if proc.environ().get(MARKER_ENV) == stack_id and _running(proc):
                found.append(proc)
        except psutil.Error:
            continue
    return found


def end_marked_processes(stack_id: str, timeout: float = 5.0) -> list[str]:
    """Terminates leftovers of a stack; returns a description of each one found."""
    leftovers = marked_processes(stack_id)
    described = []
    for proc in leftovers:
        try:
            described.append(f"{proc.pid} {' '.join(proc.cmdline())[:200]}")
            proc.terminate()
        except psutil.Error:
            continue
    _wait_gone(leftovers, timeout=timeout)
    for proc in leftovers:
        if _running(proc):
            _kill(proc)
    return described
