"""``pulse gateway``: per-site Server-Sent Events from ``dashboard_updates`` to browsers."""
