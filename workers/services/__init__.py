"""Throwaway PostgreSQL and Kafka-compatible broker for tests, the demo and benchmarks."""
