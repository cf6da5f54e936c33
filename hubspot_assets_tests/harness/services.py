"""The stand-ins the stack talks to, each in its own process: HubSpot sandbox, MongoDB.

Both run out of process: Dagster's run and step processes must all reach the
same server, and a sandbox sharing the test's GIL would skew its timing. Each
binds port 0 and prints its URL; we read the URL back from its log.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

from hubspot_assets_tests.harness.processes import ManagedProcess

#: How long a stand-in with a data directory may take to load or save it
#: (~30 s for the 1.3 GB of a 20,000-contact account on a busy 2-core machine).
KEPT_DATA_SECONDS = 900.0


def _printed_url(process: ManagedProcess, pattern: str) -> str | None:
    match = re.search(pattern, process.log_text(), re.MULTILINE)
    return match.group(0) if match else None


class MongoStandinService:
    """`python -m hubspot_assets_tests.mongo_standin --port 0`; `.uri` once started.

    With `data_dir`, the stand-in keeps its data there across restarts.
    """

    def __init__(self, *, log_dir: Path, env: dict[str, str], data_dir: Path | None = None):
        self.uri: str | None = None
        self.data_dir = data_dir
        command = [sys.executable, "-m", "hubspot_assets_tests.mongo_standin",
                   "--host", "127.0.0.1", "--port", "0"]
        if data_dir is not None:
            command += ["--data-dir", str(data_dir)]
        self.process = ManagedProcess("mongo-standin", command, env=env, log_dir=log_dir)

    def start(self, timeout: float = 60.0) -> str:
        if self.data_dir is not None:
            timeout = max(timeout, KEPT_DATA_SECONDS)  # it loads its snapshot first
        self.process.start()
        self.uri = self.process.wait_until(
            lambda: _printed_url(self.process, r"^mongodb://\S+"),
            timeout=timeout, what="the MongoDB stand-in's URI",
        )
        return self.uri

    def stop(self) -> None:
        # With a data directory it writes its last snapshot on SIGTERM: let it finish.
        self.process.stop(timeout=KEPT_DATA_SECONDS if self.data_dir is not None else 20.0)


class SandboxService:
    """`python -m hubspot_assets_tests.sandbox --config FILE.json` (several accounts, custom limits).

    `spec` has the shape of `SandboxConfig.from_dict`: {"settings": {...}, "accounts": [...]}.
    """

    def __init__(self, spec: dict, *, workdir: Path, env: dict[str, str] | None = None,
                 port: int = 0):
        self.spec = spec
        self.url: str | None = None
        config_path = Path(workdir) / "sandbox.json"
        config_path.parent.mkdir(parents=True, exist_ok=True)
        config_path.write_text(json.dumps(spec, indent=2))
        self.process = ManagedProcess(
            "sandbox",
            [sys.executable, "-m", "hubspot_assets_tests.sandbox", "--config", str(config_path),
             "--port", str(port)],
            env=env if env is not None else {**os.environ, "PYTHONUNBUFFERED": "1"},
            log_dir=Path(workdir) / "logs",
        )

    def start(self, timeout: float = 60.0) -> SandboxService:
        self.process.start()
        announced = self.process.wait_until(
            lambda: _printed_url(self.process, r"sandbox listening on http://\S+"),
            timeout=timeout, what="the sandbox's URL",
        )
        self.url = announced.rsplit(" ", 1)[-1]
        return self

    def stop(self) -> None:
        self.process.stop()

    def advance(self, portal_id: int, now_ms: int | None = None) -> dict:
        """One change step of an account (`POST /_sandbox/advance/{portal}`): its summary."""
        import requests

        body = {} if now_ms is None else {"now": now_ms}
        response = requests.post(f"{self.url}/_sandbox/advance/{portal_id}", json=body,
                                 timeout=60)
        response.raise_for_status()
        return response.json()

    def __enter__(self) -> SandboxService:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
