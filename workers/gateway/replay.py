"""What a connecting client gets before it goes live: a snapshot, a replay, or a reset."""

from __future__ import annotations

from dataclasses import dataclass

from workers.gateway.site_state import SiteState

# A position this far past the site's newest update cannot come from this topic (seqs are wall
# clock microseconds at most a little ahead); it is treated as lost, not waited for.
FUTURE_SLACK_US = 3_600_000_000


@dataclass(frozen=True)
class Start:
    """``snapshot``: send one first; ``reset``: say the position is gone first; ``frames``:
    missed updates to replay; ``skip_through``: live updates at or below it are already seen
    (a client coming from a replica that had read further than this one)."""

    snapshot: bool
    reset: bool
    frames: list[bytes]
    skip_through: int


def plan_start(state: SiteState, position: int | None, now_us: int) -> Start:
    if position is None:
        return Start(snapshot=True, reset=False, frames=[], skip_through=state.last_seq)
    if position > state.last_seq:
        if position > max(state.last_seq, now_us) + FUTURE_SLACK_US:
            return Start(snapshot=True, reset=True, frames=[], skip_through=state.last_seq)
        if state.last_seq < 0 and state.floor is None:
            return Start(snapshot=True, reset=True, frames=[], skip_through=state.last_seq)
        return Start(snapshot=False, reset=False, frames=[], skip_through=position)
    if state.covers(position):
        frames = state.frames_after(position)
        return Start(snapshot=False, reset=False, frames=frames, skip_through=state.last_seq)
    return Start(snapshot=True, reset=True, frames=[], skip_through=state.last_seq)
