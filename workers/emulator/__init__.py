"""A Supabase emulator for tests and local runs: Realtime ``postgres_changes`` plus a PostgREST subset.

It follows ``shared/reference/supabase-realtime.md`` section 5, so the unmodified ``realtime`` and
``postgrest`` clients cannot tell it from the real services for what the ingest worker uses.
"""
