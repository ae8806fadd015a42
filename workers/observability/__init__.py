"""Metrics and health endpoints shared by the ingest and stream workers."""
