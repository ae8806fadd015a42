"""What the gateway holds per site, built from ``dashboard_updates`` alone: the recent updates
(for resuming), and the snapshot a new client starts from (KPI card, intent ledger, chart,
pulse, freshness).

This is the gateway's own table: every replica reads the whole topic into it, so snapshots cost
no database query and replicas need no coordination (``docs/gateway.md`` says why not a
compacted state topic).
"""

from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Any

Update = dict[str, Any]


@dataclass
class SiteState:
    site_id: str
    replay_size: int
    ledger_size: int
    # The lowest resume position whose later updates are all still held; None while the site
    # has no update yet and the topic's start was deleted (anything may be missing).
    floor: int | None
    last_seq: int = -1
    updates: int = 0
    ring: deque[tuple[int, bytes]] = field(default_factory=deque)
    kpi: Update | None = None
    chart: Update | None = None
    pulse: Update | None = None
    freshness: Update | None = None
    ledger: OrderedDict[str, dict[str, Any]] = field(default_factory=OrderedDict)

    def apply(self, update: Update, frame: bytes) -> bool:
        """Takes in one update and its frame; False (and nothing changes) for one whose seq is
        not above the last, so the stream's ids only grow and a resume position is exact."""
        seq = int(update["seq"])
        if seq <= self.last_seq:
            return False
        if self.floor is None:
            # Seqs of a site only grow through its partition, so whatever was deleted before
            # this first held update had a lower seq.
            self.floor = seq - 1
        if len(self.ring) >= self.replay_size:
            evicted, _ = self.ring.popleft()
            self.floor = max(self.floor, evicted)
        self.ring.append((seq, frame))
        self.last_seq = seq
        self.updates += 1
        self._fold(update)
        return True

    def _fold(self, update: Update) -> None:
        kind = update["type"]
        if kind == "kpi_updated":
            if self.kpi is None or update["kpis"]["day"] >= self.kpi["kpis"]["day"]:
                self.kpi = update
        elif kind == "chart_refresh":
            if self.chart is None or update["day"] >= self.chart["day"]:
                self.chart = update
        elif kind == "pulse_status":
            self.pulse = update
        elif kind == "data_freshness":
            self.freshness = update
        elif kind in ("intent_created", "intent_updated"):
            self._put_intent(update["intent"], deleted=bool(update.get("deleted")))
        elif kind == "conversion_sealed":
            intent = self.ledger.get(update["intent_id"])
            if intent is not None:
                intent["sealed_at"] = update["sealed_at"]
        elif kind in ("call_created", "call_updated"):
            call = update["call"]
            for intent in self.ledger.values():
                if intent.get("call_id") == call["id"]:
                    intent["call_status"] = "deleted" if update.get("deleted") else call["status"]

    def _put_intent(self, intent: dict[str, Any], *, deleted: bool) -> None:
        if deleted:
            self.ledger.pop(intent["id"], None)
            return
        known = self.ledger.pop(intent["id"], None)
        entry = dict(intent)
        if known is not None and "call_status" in known:
            entry.setdefault("call_status", known["call_status"])
        self.ledger[intent["id"]] = entry
        while len(self.ledger) > self.ledger_size:
            self.ledger.popitem(last=False)

    def snapshot(self) -> dict[str, Any]:
        """The site as a new client first sees it; ``seq`` is the last update it folds in."""
        return {
            "site_id": self.site_id,
            "seq": self.last_seq if self.last_seq >= 0 else None,
            "updates": self.updates,
            "kpi": self.kpi,
            "chart": self.chart,
            "pulse": self.pulse,
            "freshness": self.freshness,
            "intents": list(reversed(self.ledger.values())),
        }

    def frames_after(self, position: int) -> list[bytes]:
        """The held frames with a seq above ``position``, oldest first."""
        newer: list[bytes] = []
        for seq, frame in reversed(self.ring):
            if seq <= position:
                break
            newer.append(frame)
        newer.reverse()
        return newer

    def covers(self, position: int) -> bool:
        """Whether every update after ``position`` is still held."""
        return self.floor is not None and position >= self.floor
