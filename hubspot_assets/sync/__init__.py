"""Incremental syncs: per-unit watermarks kept in MongoDB, and the plan of one stage run."""
