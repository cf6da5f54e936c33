"""A stage run's plan bound to where its watermarks are committed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hubspot_assets.mongo.collections import forget_indexes
from hubspot_assets.sync.plan import FULL, SyncPlan, SyncPolicy
from hubspot_assets.sync.watermarks import WatermarkStore
from hubspot_assets.timestamps import iso


@dataclass
class Checkpoint:
    """Commits ``plan``'s watermarks for (source, stage) once the run's data is stored."""

    plan: SyncPlan
    store: WatermarkStore
    source_id: str
    stage: str

    @classmethod
    def load(cls, store: WatermarkStore, source_id: str, stage: str,
             policy: SyncPolicy) -> Checkpoint:
        """The plan from the stored watermarks, each checked against the data it vouches for."""
        previous = store.load(source_id, stage)
        distrust = None if policy.full_refresh else store.stream_problem(source_id, stage,
                                                                         previous)
        plan = SyncPlan(previous, policy, distrust=distrust)
        if plan.mode == FULL:
            forget_indexes(store.db)  # rare, and the database may have been lost
        return cls(plan, store, source_id, stage)

    def commit(self, run_id: str) -> None:
        """Commit the watermarks with what the stream holds now (checked by the next run)."""
        evidence = self.store.stream_evidence(self.source_id, self.stage, run_id)
        self.store.commit(self.source_id, self.stage,
                          {**self.plan.watermark_document(run_id), "stream": evidence})

    def metadata(self) -> dict[str, Any]:
        """The plan's mode and the watermarks this run commits (plain values)."""
        units = self.plan.watermark_document("")["units"]
        return {**self.plan.metadata(),
                "watermarks": {u: iso(ms) for u, ms in sorted(units.items())}}
