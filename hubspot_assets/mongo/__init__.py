"""MongoDB storage on pymongo: connections, collections and their indexes, the bulk
writer, the stream writer, stored streams and credential redaction (no Dagster)."""
