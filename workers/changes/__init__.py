"""Source-independent change logic: canonical values, event IDs and keying by site.

Both sources (WAL and Supabase Realtime) go through these functions, so the same committed change
gets the same canonical record and the same event ID whichever source delivered it.
"""
