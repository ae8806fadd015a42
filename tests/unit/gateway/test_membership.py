from __future__ import annotations

import asyncio

import pytest

from workers.gateway.membership import MembershipCache, MembershipUnavailable, Pair


class Members:
    """The site_members rows, as a look-up that records each query it gets."""

    def __init__(self, rows: set[Pair]) -> None:
        self.rows = rows
        self.queries: list[list[Pair]] = []
        self.fail = False

    async def __call__(self, pairs: list[Pair]) -> set[Pair]:
        self.queries.append(sorted(pairs))
        if self.fail:
            raise OSError("connection refused")
        return {pair for pair in pairs if pair in self.rows}


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_misses_of_one_loop_turn_go_out_as_one_query() -> None:
    members = Members({("u1", "s1"), ("u2", "s1")})
    cache = MembershipCache(members, ttl_s=30, max_entries=10)
    answers = await asyncio.gather(
        cache.is_member("u1", "s1"),
        cache.is_member("u2", "s1"),
        cache.is_member("u3", "s1"),
        cache.is_member("u1", "s1"),
    )
    assert answers == [True, True, False, True]
    assert members.queries == [[("u1", "s1"), ("u2", "s1"), ("u3", "s1")]]


async def test_answers_are_reused_until_the_ttl_and_then_asked_again() -> None:
    clock = Clock()
    members = Members({("u1", "s1")})
    cache = MembershipCache(members, ttl_s=30, max_entries=10, clock=clock)
    assert await cache.is_member("u1", "s1")
    clock.now = 29
    assert await cache.is_member("u1", "s1")
    assert len(members.queries) == 1
    members.rows.clear()
    clock.now = 31
    assert not await cache.is_member("u1", "s1")
    assert len(members.queries) == 2


async def test_refresh_asks_only_for_expired_answers() -> None:
    clock = Clock()
    members = Members({("u1", "s1"), ("u2", "s2")})
    cache = MembershipCache(members, ttl_s=10, max_entries=10, clock=clock)
    await cache.is_member("u1", "s1")
    assert await cache.refresh([("u1", "s1")]) == {}
    clock.now = 11
    members.rows.discard(("u1", "s1"))
    assert await cache.refresh([("u1", "s1"), ("u2", "s2")]) == {
        ("u1", "s1"): False,
        ("u2", "s2"): True,
    }


async def test_the_cache_is_bounded() -> None:
    cache = MembershipCache(Members(set()), ttl_s=10, max_entries=2)
    for user in ("a", "b", "c"):
        await cache.is_member(user, "s")
    assert len(cache) == 2
    assert cache.cached(("a", "s")) is None


async def test_a_failed_lookup_is_reported_not_taken_as_an_answer() -> None:
    members = Members({("u1", "s1")})
    members.fail = True
    cache = MembershipCache(members, ttl_s=10, max_entries=10)
    with pytest.raises(MembershipUnavailable, match="connection refused"):
        await cache.is_member("u1", "s1")
    members.fail = False
    assert await cache.is_member("u1", "s1")
