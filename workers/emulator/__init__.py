"""A Supabase emulator for tests and local runs: Realtime ``postgres_changes`` plus a PostgREST subset.

It speaks the hosted services' protocols closely enough that the unmodified ``realtime`` and
``postgrest`` clients cannot tell it from them for what the ingest worker uses;
``tests/integration/ingest/realtime/test_conformance.py`` lists what that covers.
"""
