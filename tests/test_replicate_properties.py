"""Property: two stores holding any prefixes (and branches) of the same feeds hold the
same entries after one session, in either direction, and a second session moves
nothing."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from net_helpers import NOW, Side, handshake, pump

from ssbmoney.core.entry import create
from ssbmoney.core.keys import keypair
from ssbmoney.net import replica
from ssbmoney.store.group_store import Store

GROUP = bytes([3]) * 32
PSK = bytes([4]) * 32
KEYS = [keypair(bytes([10 + i]) * 32) for i in range(4)]
PEER_A, PEER_B = keypair(bytes([1]) * 32), keypair(bytes([2]) * 32)


def _feed(n: int, length: int, branch: int = 0) -> list[bytes]:
    """Feed ``n``'s first ``length`` entries; ``branch`` > 0 diverges from seq 2 on."""
    out, previous = [], None
    for seq in range(1, length + 1):
        content = bytes([seq, branch if seq >= 2 else 0]) * 40
        made = create(KEYS[n].secret, KEYS[n].public, GROUP, seq, previous, NOW, content)
        out.append(made)
        previous = made.id
    return out


holdings = st.lists(st.tuples(st.integers(0, 5), st.integers(0, 5), st.booleans()),
                    min_size=len(KEYS), max_size=len(KEYS))


@settings(max_examples=40, deadline=None)
@given(holdings, st.booleans())
def test_one_session_makes_two_stores_hold_the_same_entries(
        held: list[tuple[int, int, bool]], a_starts: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        stores = [Store(Path(tmp) / "a", GROUP), Store(Path(tmp) / "b", GROUP)]
        try:
            for n, (in_a, in_b, fork) in enumerate(held):
                stores[0].ingest(_feed(n, in_a))
                stores[1].ingest(_feed(n, in_b, 1 if fork and in_b >= 2 else 0))
            first, second = (0, 1) if a_starts else (1, 0)
            ta, tb = handshake(PSK, PEER_A, PSK, PEER_B, GROUP)
            pump(Side(stores[first], PEER_A, ta), Side(stores[second], PEER_B, tb))
            frontiers = [replica.frontier(s) for s in stores]
            assert frontiers[0] == frontiers[1]
            ids = [{e.id for e in s.all_entries()} for s in stores]
            assert ids[0] == ids[1]
            assert {(p.author, p.seq) for p in stores[0].forks()} == {
                (p.author, p.seq) for p in stores[1].forks()}
            ta, tb = handshake(PSK, PEER_A, PSK, PEER_B, GROUP)
            again = Side(stores[0], PEER_A, ta), Side(stores[1], PEER_B, tb)
            pump(*again)
            assert again[0].stored == again[1].stored == 0
            assert again[0].messages_out == 2  # hello, bye: in sync
        finally:
            for s in stores:
                s.close()
