"""Realtime Pulse: Supabase row changes to live, per-site dashboard updates."""
