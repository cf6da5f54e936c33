"""A local HubSpot for tests, benchmarks and the demo.

    from hubspot_assets_tests.sandbox import AccountSpec, SandboxConfig, SandboxServer
    with SandboxServer(SandboxConfig(accounts=[AccountSpec(1234, "tok")])) as sb:
        requests.get(sb.url + "/crm/v3/objects/contacts", headers={"Authorization": "Bearer tok"})

Plain stdlib HTTP; no Dagster, no pymongo. See docs/contracts.md.
"""

from .catalog import STANDARD_OBJECT_TYPES
from .config import ALL_FAULT_KINDS, DEMO_PORTAL_ID, DEMO_TOKEN, AccountSpec, SandboxConfig
from .process import SandboxProcess
from .server import SandboxServer

__all__ = ["ALL_FAULT_KINDS", "AccountSpec", "DEMO_PORTAL_ID", "DEMO_TOKEN", "SandboxConfig",
           "SandboxProcess", "SandboxServer", "STANDARD_OBJECT_TYPES"]
