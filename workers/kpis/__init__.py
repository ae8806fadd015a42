"""KPI definitions: what each per-site, per-UTC-day figure means, computed from Postgres."""
