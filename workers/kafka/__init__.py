"""Kafka plumbing shared by the workers and the tools: topics, codecs, partitioning."""
