"""The stream contract between stages and storage: record type, kinds, document ids,
the ``RecordStream`` protocol, and a source's names (plain Python, no I/O)."""
