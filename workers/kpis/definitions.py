"""What each KPI counts, defined once for the SQL reference (``sql``) and the stream worker.

Pure: the stream's rules read it, so it must not import a database driver.
"""

from __future__ import annotations


def conversion_rate(conversions: int, intents: int) -> float:
    return round(conversions / intents, 4) if intents else 0.0
