from __future__ import annotations

from workers.gateway.registry import Client, Registry, site_bucket

SITE_A = "a"
SITE_B = "b"


def client(site: str = SITE_A, limit: int = 100, skip: int = -1) -> Client:
    return Client(site, "user", expires_at=None, limit_bytes=limit, skip_through=skip)


def test_publish_reaches_only_the_site_s_clients() -> None:
    registry = Registry()
    a, b = client(SITE_A), client(SITE_B)
    registry.add(a)
    registry.add(b)
    queued, slow = registry.publish(SITE_A, b"frame", 1)
    assert (queued, slow) == (1, [])
    assert a.take() == b"frame"
    assert b.take() == b""


def test_a_slow_client_is_closed_with_a_reason_and_the_others_keep_going() -> None:
    registry = Registry()
    slow_one, fast = client(limit=10), client(limit=1000)
    registry.add(slow_one)
    registry.add(fast)
    registry.publish(SITE_A, b"12345678", 1)
    fast.take()
    queued, slow = registry.publish(SITE_A, b"12345678", 2)
    assert slow == [slow_one]
    assert queued == 1
    assert slow_one.closing == "slow_client"
    assert slow_one.final is not None and b"event: disconnect" in slow_one.final
    assert slow_one.take() == b""
    # Reported once, not again on the next frame.
    assert registry.publish(SITE_A, b"x", 3) == (1, [])


def test_updates_already_seen_are_skipped() -> None:
    c = client(skip=5)
    assert c.push(b"old", 5)
    assert c.push(b"new", 6)
    assert c.take() == b"new"


def test_frames_queue_into_one_write() -> None:
    c = client()
    c.push(b"a", 1)
    c.push(b"b", 2)
    assert c.wake.is_set()
    assert c.take() == b"ab"
    assert not c.wake.is_set()


def test_remove_and_counts() -> None:
    registry = Registry()
    a = client()
    registry.add(a)
    assert len(registry) == 1 and registry.sites() == 1
    registry.remove(a)
    registry.remove(a)
    assert len(registry) == 0 and registry.sites() == 0


def test_site_buckets_are_stable_and_bounded() -> None:
    assert site_bucket("x") == site_bucket("x")
    assert {site_bucket(str(i)) for i in range(1000)} <= {str(i) for i in range(16)}


def test_the_start_is_outside_the_limit_and_long_queues_go_out_in_pieces() -> None:
    c = client(limit=10)
    for _ in range(3):
        c.push_start(b"s" * 8)
    assert c.push(b"live", 1)
    assert c.take(max_bytes=16) == b"s" * 16
    assert c.take(max_bytes=16) == b"s" * 8 + b"live"
    assert c.pending_bytes == 0 and c.start_bytes == 0
    assert not c.wake.is_set()
