"""A stage run's plan bound to where its watermarks are committed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hubspot_assets.sync.plan import SyncPlan
from hubspot_assets.sync.watermarks import WatermarkStore
from hubspot_assets.timestamps import iso


@dataclass
class Checkpoint:
    """Commits ``plan``'s watermarks for (source, stage) once the run's data is stored."""

    plan: SyncPlan
    store: WatermarkStore
    source_id: str
    stage: str

    def commit(self, run_id: str) -> None:
        self.store.commit(self.source_id, self.stage, self.plan.watermark_document(run_id))

    def metadata(self) -> dict[str, Any]:
        """The plan's mode and the watermarks this run commits (plain values)."""
        units = self.plan.watermark_document("")["units"]
        return {**self.plan.metadata(),
                "watermarks": {u: iso(ms) for u, ms in sorted(units.items())}}
