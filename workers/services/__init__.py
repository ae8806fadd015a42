"""Throwaway PostgreSQL and Apache Kafka (or the demo's Tansu fallback) for tests, the demo and benchmarks."""
