"""The Realtime source: Supabase Realtime pushes and PostgREST catch-up reads, into Kafka."""
