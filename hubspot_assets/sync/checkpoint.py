"""A stage run's plan bound to where its watermarks are committed."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from hubspot_assets.mongo.collections import forget_indexes
from hubspot_assets.sync.plan import FULL, SyncPlan, SyncPolicy
from hubspot_assets.sync.watermarks import WatermarkStore
from hubspot_assets.timestamps import iso

log = logging.getLogger(__name__)


@dataclass
class Checkpoint:
    """Commits ``plan``'s watermarks for (source, stage) once the run's data is stored.

    ``baseline``: what the stream held when the run started (the watermark it
    trusted, the stream's size). Data can vanish while a run is under way (a
    failover to an empty node): then the commit would vouch for a stream that
    is not there, so it withdraws the watermark instead and the next run syncs
    in full.
    """

    plan: SyncPlan
    store: WatermarkStore
    source_id: str
    stage: str
    baseline: dict[str, Any] = field(default_factory=dict)
    withdrawn: str | None = None  # why this run's watermarks were not committed

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
        baseline = {"stream_size": store.stream_size(source_id),
                    "previous": previous if plan.mode != FULL else None}
        return cls(plan, store, source_id, stage, baseline)

    def commit(self, run_id: str) -> None:
        """Commit the watermarks with what the stream holds now (checked by the next run)."""
        evidence = self.store.stream_evidence(self.source_id, self.stage, run_id)
        self.withdrawn = self.store.lost_during_run(self.source_id, self.stage, run_id,
                                                    evidence, self.baseline)
        if self.withdrawn:
            log.warning("%s: %s; watermarks withdrawn, the next run syncs in full",
                        self.stage, self.withdrawn)
            self.store.withdraw(self.source_id, self.stage)
            return
        self.store.commit(self.source_id, self.stage,
                          {**self.plan.watermark_document(run_id), "stream": evidence})

    def metadata(self) -> dict[str, Any]:
        """The plan's mode and the watermarks this run commits (plain values)."""
        units = self.plan.watermark_document("")["units"]
        metadata = {**self.plan.metadata(),
                    "watermarks": {u: iso(ms) for u, ms in sorted(units.items())}}
        if self.withdrawn:
            metadata["watermarks_withdrawn"] = self.withdrawn
        return metadata
