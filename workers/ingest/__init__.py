"""Ingest worker: Postgres row changes into the Kafka topic ``supabase_changes``."""
