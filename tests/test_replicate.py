"""Replication, sans-IO: two machines over real stores, joined in memory (no sockets)."""

from __future__ import annotations

from pathlib import Path

import pytest
from net_helpers import deposit, founder, in_memory, joiner, pump, state_hash

from ssbmoney.core.errors import ProtocolError
from ssbmoney.core.replicate import Phase, Replication, Want, digest, needs, plan
from ssbmoney.core.wire import WINDOW, Ack, Batch, Done, Frontier, Hello, Need


def test_peers_in_sync_settle_with_one_exchange_of_digests(tmp_path: Path) -> None:
    ana, info = founder(tmp_path)
    bo = joiner(tmp_path, info, ana, "Bo", 2)
    a, b = in_memory(ana, bo)
    pump(a, b)
    a2, b2 = in_memory(ana, bo)
    pump(a2, b2)
    # Hello, then Bye: nothing else, whatever the number of feeds.
    assert a2.messages_out == 2 and b2.messages_out == 2
    assert a2.caught_up and b2.caught_up


def test_both_directions_at_once_and_converge(tmp_path: Path) -> None:
    ana, info = founder(tmp_path)
    bo = joiner(tmp_path, info, ana, "Bo", 2)
    deposit(ana, 100, 2500)  # more than two batches
    deposit(bo, 7, 30)
    a, b = in_memory(ana, bo)
    pump(a, b)
    assert a.stored == 31 and b.stored == 2502
    assert state_hash(ana) == state_hash(bo)
    assert a.caught_up and b.caught_up and a.closed and b.closed


def test_live_sides_stay_open_after_catching_up(tmp_path: Path) -> None:
    ana, info = founder(tmp_path)
    bo = joiner(tmp_path, info, ana, "Bo", 2)
    a, b = in_memory(ana, bo, live=True)
    pump(a, b)
    assert a.machine.phase is Phase.LIVE and b.machine.phase is Phase.LIVE


def _tips(n: int) -> dict[bytes, tuple[tuple[int, bytes], ...]]:
    return {bytes([i]) * 32: ((i + 1, bytes([i + 1]) * 32),) for i in range(n)}


def test_digest_differs_for_any_tip_and_notices_a_second_branch() -> None:
    base = _tips(5)
    feed = bytes([2]) * 32
    other = dict(base)
    other[feed] = ((3, bytes([9]) * 32),)
    forked = dict(base)
    forked[feed] = tuple(sorted((*base[feed], (3, bytes([9]) * 32))))
    assert len({digest(base), digest(other), digest(forked)}) == 3
    assert digest(base) == digest(dict(reversed(list(base.items()))))


def test_plan_sends_suffixes_and_whole_feeds_on_disagreement() -> None:
    f1, f2, f3 = bytes([1]) * 32, bytes([2]) * 32, bytes([3]) * 32
    h = {n: bytes([n]) * 32 for n in range(10, 20)}
    mine = {f1: ((5, h[15]),), f2: ((3, h[13]),), f3: ((2, h[12]),)}
    theirs = {f1: ((2, h[12]),), f2: ((3, h[19]),)}
    held = {(f1, 2): {h[12]}, (f2, 3): {h[13]}}
    wants = plan(mine, theirs, lambda feed, seq: held.get((feed, seq), set()))
    assert wants == (Want(f1, 3, False), Want(f2, 1, True), Want(f3, 1, False))


def test_the_side_behind_on_a_diverged_feed_is_asked_for_its_branch() -> None:
    feed = bytes([1]) * 32
    a2, b2, b3 = bytes([2]) * 32, bytes([22]) * 32, bytes([23]) * 32
    behind = {feed: ((2, a2),)}
    ahead = {feed: ((3, b3),)}
    held_ahead = {(feed, 2): {b2}}
    # The side behind cannot tell: it sends nothing of its own accord...
    assert plan(behind, ahead, lambda f, s: {a2} if s == 2 else set()) == ()
    # ...but the side ahead sees the peer's tip is not in its chain, and asks for it.
    assert needs(ahead, behind, lambda f, s: held_ahead.get((f, s), set())) == (feed,)
    assert needs(ahead, {feed: ((2, b2),)}, lambda f, s: held_ahead.get((f, s), set())) == ()


def _machine(live: bool = False) -> Replication:
    m = Replication(Hello(bytes(32), bytes(64), bytes(32), live), {})
    m.start()
    return m


def test_out_of_turn_messages_end_the_session() -> None:
    m = _machine()
    with pytest.raises(ProtocolError):
        m.receive(Frontier(()))  # before any hello
    m = _machine()
    with pytest.raises(ProtocolError):
        m.receive(Batch(0, 0, (), ()))
    m = _machine()
    m.receive(Hello(bytes(32), bytes(64), bytes([1]) * 32, False))
    m.receive(Frontier(()))
    with pytest.raises(ProtocolError):
        m.receive(Ack(0, 0, ""))  # nothing was sent
    with pytest.raises(ProtocolError):
        m.receive(Batch(1, 0, (), ()))  # batches are numbered from 0
    with pytest.raises(ProtocolError):
        m.receive(Done())  # the peer cannot be done before it has our Need
    m = _machine()
    m.receive(Hello(bytes(32), bytes(64), bytes([1]) * 32, False))
    m.receive(Frontier(()))
    m.need(())
    with pytest.raises(ProtocolError):
        m.done()  # nor can we, before we have theirs
    m.receive(Need(()))
    with pytest.raises(ProtocolError):
        m.receive(Need(()))
    m.receive(Done())
    with pytest.raises(ProtocolError):
        m.receive(Done())


def test_a_peer_that_ignores_the_window_is_cut_off() -> None:
    m = _machine()
    m.receive(Hello(bytes(32), bytes(64), bytes([1]) * 32, False))
    m.receive(Frontier(()))
    for n in range(WINDOW):
        m.receive(Batch(n, 0, (b"x",), ()))
    with pytest.raises(ProtocolError, match="without waiting"):
        m.receive(Batch(WINDOW, 0, (b"x",), ()))


def test_our_own_sender_cannot_overrun_the_window() -> None:
    m = _machine()
    m.receive(Hello(bytes(32), bytes(64), bytes([1]) * 32, False))
    m.receive(Frontier(()))
    for _ in range(WINDOW):
        m.batch(())
    assert not m.can_send()
    with pytest.raises(ProtocolError):
        m.batch(())


def test_plan_sends_a_forked_feed_whole_when_its_tips_differ() -> None:
    feed = bytes([1]) * 32
    a2, b2, b3 = bytes([2]) * 32, bytes([22]) * 32, bytes([23]) * 32
    mine = {feed: ((2, a2), (3, b3))}
    theirs = {feed: ((2, a2), (2, b2))}
    assert plan(mine, theirs, lambda f, s: {a2, b2} if s == 2 else set()) == (
        Want(feed, 1, True),)
