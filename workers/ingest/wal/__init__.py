"""The WAL source: a logical replication slot (pgoutput) and its initial snapshot, into Kafka."""
