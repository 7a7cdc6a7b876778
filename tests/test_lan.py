"""LAN discovery: the tokens (pure), then real announcements through real sockets.

Real-network tests stay where nothing can leak: loopback (zeroconf bound to 127.0.0.1,
beacons to 127.255.255.255: the kernel routes neither off the host), or two network
namespaces this file makes, joined by a veth pair (``netns_helpers``; root only).
Clocks are injected, so rotation takes milliseconds, not ten minutes.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import socket
import time
from collections.abc import Callable
from difflib import SequenceMatcher
from typing import Any

import netns_helpers as nh
import pytest
from hypothesis import given
from hypothesis import strategies as st
from zeroconf import IPVersion
from zeroconf.asyncio import AsyncServiceInfo, AsyncZeroconf

from ssbmoney.core.lan import (
    BEACON_LEN,
    EPOCH_MS,
    UDP_MAGIC,
    decode_beacon,
    encode_beacon,
    is_token,
    lan_key,
    make_token,
    recognise,
    txt_port,
    txt_record,
)
from ssbmoney.net.discovery import SERVICE_TYPE, LanDiscovery, _hear_only_own_link

KEYS = [lan_key(bytes([n]) * 32) for n in (1, 2, 3)]
KEY1, KEY2, KEY3 = KEYS
NOW = 1_700_000_000_000
RNG = random.Random(7)


def nonce() -> bytes:
    return RNG.randbytes(10)


# ---- tokens ---------------------------------------------------------------------------


def test_a_token_is_a_dns_label_and_fresh_each_time() -> None:
    tokens = {make_token(KEY1, NOW, nonce()) for _ in range(50)}
    assert len(tokens) == 50
    for t in tokens:
        assert len(t) <= 63 and set(t) <= set("abcdefghijklmnopqrstuvwxyz234567") and is_token(t)
    same = nonce()
    assert make_token(KEY1, NOW, same) != make_token(KEY1, NOW + EPOCH_MS, same)
    assert make_token(KEY1, NOW, same) != make_token(KEY2, NOW, same)


def test_recognised_one_epoch_either_side_and_not_two() -> None:
    start = NOW - NOW % EPOCH_MS  # the first ms of an epoch
    token = make_token(KEY1, start + EPOCH_MS - 1, nonce())  # its last ms
    keys = {b"g1": KEY1, b"g2": KEY2}
    for now in (start - EPOCH_MS, start, start + EPOCH_MS, start + 2 * EPOCH_MS - 1):
        assert recognise(keys, token, now) == b"g1"
    for now in (start - EPOCH_MS - 1, start + 2 * EPOCH_MS, start + 5 * EPOCH_MS):
        assert recognise(keys, token, now) is None
    assert recognise({b"g2": KEY2, b"g3": KEY3}, token, start) is None
    assert recognise({}, token, start) is None


def _longest_common_substring(a: str, b: str) -> int:
    return SequenceMatcher(None, a, b, autojunk=False).find_longest_match().size


def test_tokens_of_one_group_are_unlinkable() -> None:
    # Tokens of successive rotations share nothing beyond chance: two random 42-char
    # base32 strings share a 6-char substring with probability ~1e-6.
    tokens = [make_token(KEY1, NOW + i * EPOCH_MS // 3, nonce()) for i in range(40)]
    for a, b in zip(tokens, tokens[1:], strict=False):
        assert _longest_common_substring(a, b) < 6


@pytest.mark.parametrize("hostile", [
    "", "a" * 42, "a" * 43, "A" * 42, "=" * 42, "\x00" * 42, "ａ" * 42, "é" * 42,
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa==", "1" * 42, "a" * 10_000,
])
def test_hostile_strings_are_not_tokens(hostile: str) -> None:
    assert recognise({b"g1": KEY1}, hostile, NOW) is None


def test_only_the_canonical_spelling_is_recognised() -> None:
    token = make_token(KEY1, NOW, nonce())
    assert recognise({b"g1": KEY1}, token.upper(), NOW) is None
    flipped = token[:-1] + ("b" if token[-1] == "a" else "a")  # a spare bit, or the MAC
    assert recognise({b"g1": KEY1}, flipped, NOW) is None


@given(st.text(max_size=80), st.integers(min_value=-(2**70), max_value=2**70))
def test_recognise_never_raises(text: str, now: int) -> None:
    assert recognise({b"g1": KEY1}, text, now) is None


@given(st.binary(max_size=120))
def test_decode_beacon_never_raises(data: bytes) -> None:
    decoded = decode_beacon(data)
    assert decoded is None or encode_beacon(*decoded) == data


def test_beacons() -> None:
    token = make_token(KEY1, NOW, nonce())
    beacon = encode_beacon(token, 8443)
    assert len(beacon) == BEACON_LEN and decode_beacon(beacon) == (token, 8443)
    for bad in (beacon[:-1], beacon + b"\0", b"x" + beacon[1:], beacon[:-2] + b"\0\0",
                UDP_MAGIC + b"\xff" * 42 + b"\x01\x00", b""):
        assert decode_beacon(bad) is None
    with pytest.raises(ValueError):
        encode_beacon(token, 0)
    with pytest.raises(ValueError):
        make_token(KEY1, NOW, b"short")


def test_the_txt_record_is_the_port_alone() -> None:
    assert txt_record(8443) == {"p": "8443"} and txt_port({b"p": b"8443"}) == 8443
    for bad in ({}, {b"p": None}, {b"p": b""}, {b"p": b"0"}, {b"p": b"65536"},
                {b"p": b"-1"}, {b"p": b" 80"}, {b"p": "٣".encode()}, {b"q": b"1"}):
        assert txt_port(bad) is None


# ---- real sockets on loopback ---------------------------------------------------------

UDP_BASE = 30_000 + (os.getpid() % 900) * 10  # per process, so pytest -n never shares


def loopback_zeroconf() -> AsyncZeroconf:
    """A bare Zeroconf on loopback, deaf to other links as LanDiscovery's are: it must
    not answer a query that reached this host from a real network."""
    zc = AsyncZeroconf(interfaces=["127.0.0.1"], ip_version=IPVersion.V4Only)
    _hear_only_own_link(zc, "127.0.0.1")
    return zc


class Node:
    """A LanDiscovery on loopback and what it reported."""

    def __init__(self, keys: dict[bytes, bytes], port: int, clock: Callable[[], int],
                 udp_port: int, **kw: Any) -> None:
        self.found: set[tuple[bytes, str, int]] = set()
        self.disc = LanDiscovery(keys, port, lambda g, h, p: self.found.add((g, h, p)),
                                 interfaces=["127.0.0.1"], clock=clock, udp_port=udp_port,
                                 broadcast_address="127.255.255.255", beacon_interval=0.1,
                                 **kw)


async def until(cond: Callable[[], bool], timeout: float = 5.0) -> None:
    end = time.monotonic() + timeout
    while not cond() and time.monotonic() < end:
        await asyncio.sleep(0.02)


def fresh_keys() -> list[bytes]:
    """Keys no other test uses: tests in parallel (pytest -n) share loopback's port 5353."""
    return [lan_key(os.urandom(32)) for _ in range(3)]


def _three_nodes(keys: list[bytes], udp_port: int, clock: Callable[[], int], **kw: Any
                 ) -> list[Node]:
    k1, k2, k3 = keys
    return [Node({b"g1": k1}, 1001, clock, udp_port, **kw),
            Node({b"g1": k1, b"g2": k2}, 1002, clock, udp_port, **kw),
            Node({b"g3": k3}, 1003, clock, udp_port, **kw)]  # another group


@pytest.mark.parametrize("way", ["mdns", "broadcast"])
def test_members_find_each_other_on_loopback(way: str, caplog: pytest.LogCaptureFixture
                                             ) -> None:
    async def main() -> None:
        a, b, c = nodes = _three_nodes(fresh_keys(), UDP_BASE + (way == "mdns"), lambda: NOW,
                                       mdns=way == "mdns", broadcast=way == "broadcast")
        for n in nodes:
            await n.disc.start()
        try:
            await until(lambda: bool(a.found and b.found))
            await asyncio.sleep(0.3)  # time for anything wrong to be reported too
        finally:
            await asyncio.gather(*(n.disc.stop() for n in nodes))
        assert a.found == {(b"g1", "127.0.0.1", 1002)}
        assert b.found == {(b"g1", "127.0.0.1", 1001)}
        assert c.found == set()

    with caplog.at_level(logging.WARNING, "ssbmoney"):
        asyncio.run(main())
    assert not [r for r in caplog.records if r.name.startswith("ssbmoney")]


def test_the_txt_record_holds_only_the_port() -> None:
    async def main() -> None:
        k1, k2, _ = fresh_keys()
        node = Node({b"g1": k1, b"g2": k2}, 4242, lambda: NOW, UDP_BASE + 2, broadcast=False)
        await node.disc.start()
        eavesdropper = loopback_zeroconf()
        try:
            assert len(node.disc.tokens) == 2
            for token in node.disc.tokens:
                info = AsyncServiceInfo(SERVICE_TYPE, f"{token}.{SERVICE_TYPE}")
                assert await info.async_request(eavesdropper.zeroconf, 3000)
                assert info.properties == {b"p": b"4242"}
                assert info.server == f"{token}.local." and info.port == 4242
                assert info.parsed_addresses(IPVersion.All) == ["127.0.0.1"]
        finally:
            await eavesdropper.async_close()
            await node.disc.stop()

    asyncio.run(main())


@pytest.mark.parametrize("way", ["mdns", "broadcast"])
def test_tokens_rotate_and_members_still_find_each_other(way: str) -> None:
    now = [NOW]
    ways = {"mdns": way == "mdns", "broadcast": way == "broadcast"}

    async def main() -> None:
        keys = fresh_keys()
        a, b, c = nodes = _three_nodes(keys, UDP_BASE + 3, lambda: now[0], rotate_ms=1000,
                                       **ways)
        # Three epochs off, so that none of its tokens, even one cached from an epoch
        # before, is ever in a's window (two off would be at its edge).
        far = Node({b"g1": keys[0]}, 1004, lambda: now[0] + 3 * EPOCH_MS, UDP_BASE + 3,
                   **ways)
        for n in [*nodes, far]:
            await n.disc.start()

        def rotated_and_found(old: frozenset[str]) -> Callable[[], bool]:
            return lambda: not a.disc.tokens & old and bool(a.found and b.found)

        try:
            await until(lambda: bool(a.found and b.found))
            seen, first = set(a.disc.tokens), set(a.disc.tokens)
            for _ in range(3):  # three rotations; the last one into the next epoch
                a.found.clear()
                b.found.clear()
                now[0] += EPOCH_MS // 3
                await until(rotated_and_found(frozenset(seen)))
                assert not a.disc.tokens & seen, "a fresh token at each rotation"
                seen |= a.disc.tokens
            assert len(seen) == 3 * len(first) + len(first)
        finally:
            await asyncio.gather(*(n.disc.stop() for n in [*nodes, far]))
        assert a.found == {(b"g1", "127.0.0.1", 1002)}
        assert b.found == {(b"g1", "127.0.0.1", 1001)}
        assert c.found == far.found == set()  # a clock three epochs off sees nobody

    asyncio.run(main())


def test_hostile_announcements_are_ignored(caplog: pytest.LogCaptureFixture) -> None:
    udp = UDP_BASE + 4

    async def main() -> None:
        k1, k2, _ = fresh_keys()
        a = Node({b"g1": k1}, 1001, lambda: NOW, udp)
        await a.disc.start()
        hostile = loopback_zeroconf()
        replayed = make_token(k1, NOW, nonce())  # our group's, but a bad TXT record
        for label, props in ((replayed, {"p": "70000"}), ("x" * 63, {"p": "1"}),
                             ("ZZ", {}), (make_token(k2, NOW, nonce()), {"p": "1"})):
            await hostile.async_register_service(AsyncServiceInfo(
                SERVICE_TYPE, f"{label}.{SERVICE_TYPE}", port=1, properties=props,
                server=f"{label[:20]}.local.", parsed_addresses=["127.0.0.1"]),
                cooperating_responders=True)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
            for junk in (b"", os.urandom(BEACON_LEN), UDP_MAGIC + b"\xff" * 44,
                         encode_beacon(make_token(k2, NOW, nonce()), 9),
                         encode_beacon(next(iter(a.disc.tokens)), 9)):  # our own
                s.sendto(junk, ("127.255.255.255", udp))
        b = Node({b"g1": k1}, 1002, lambda: NOW, udp)
        await b.disc.start()
        try:
            await until(lambda: bool(a.found))
            await asyncio.sleep(0.5)
        finally:
            await asyncio.gather(a.disc.stop(), b.disc.stop(), hostile.async_close())
        assert a.found == {(b"g1", "127.0.0.1", 1002)}

    with caplog.at_level(logging.WARNING, "ssbmoney"):
        asyncio.run(main())
    assert not [r for r in caplog.records if r.name.startswith("ssbmoney")]


def test_bad_settings_are_refused() -> None:
    for kw in ({"rotate_ms": EPOCH_MS + 1}, {"rotate_ms": 0}, {"interfaces": ["::1"]}):
        with pytest.raises(ValueError):
            LanDiscovery({}, 1, lambda g, h, p: None, **kw)
    with pytest.raises(ValueError):
        LanDiscovery({}, 0, lambda g, h, p: None)


# ---- two namespaces: two machines on one link -----------------------------------------

NETNS = nh.netns_unavailable()
needs_netns = pytest.mark.skipif(NETNS is not None, reason=f"no network namespaces: {NETNS}")
A, B = f"{nh.subnet(0)}.1", f"{nh.subnet(0)}.2"


@needs_netns
def test_mdns_between_namespaces_reveals_only_tokens_port_and_address() -> None:
    with nh.netns_chain("m") as (ns_a, ns_b):
        homes = nh.three_homes(ns_a, ns_b, KEYS, udp_port=47001, seconds=1.5,
                               broadcast=False, clock_base=NOW)
        a, b, c, spy = nh.run_in([*homes, (ns_a, "inspect", {"address": A, "seconds": 1.2})])
    assert nh.peers(a) == {("01", B, 1002)} and nh.peers(b) == {("01", A, 1001)}
    assert nh.peers(c) == set()
    announced = {t: port for r, port in ((a, 1001), (b, 1002), (c, 1003))
                 for t in r["tokens"][-1][1]}
    assert len(announced) == 4  # one per group per home, none shared
    assert {s["name"] for s in spy["services"]} == {f"{t}.{SERVICE_TYPE}" for t in announced}
    for s in spy["services"]:
        token = s["name"].split(".")[0]
        assert s["properties"] == {"p": str(announced[token])}
        assert s["server"] == f"{token}.local."
        assert s["addresses"] == [A if announced[token] == 1001 else B]
    assert nh.leaks(spy, announced, {A, B}) == []  # everything the eavesdropper cached


@needs_netns
def test_beacons_between_namespaces_with_rotating_tokens() -> None:
    # A fast clock: an epoch passes every 0.4 s, so each node rotates several times.
    with nh.netns_chain("u") as (ns_a, ns_b):
        a, b, c = nh.run_in(nh.three_homes(ns_a, ns_b, KEYS, udp_port=47002, seconds=2.0,
                                           mdns=False, interval=0.1, speed=EPOCH_MS / 400,
                                           clock_base=NOW))
    assert nh.peers(a) == {("01", B, 1002)} and nh.peers(b) == {("01", A, 1001)}
    assert nh.peers(c) == set()
    assert len(a["tokens"]) >= 3
    assert max(t for *_, t in a["peers"]) > a["tokens"][2][0]  # found after rotations


@needs_netns
def test_a_home_on_two_links_tells_each_link_only_of_itself() -> None:
    # a -- b -- c: b is on both links; a and c each browse as a member and as a spy.
    C1, C2 = f"{nh.subnet(1)}.1", f"{nh.subnet(1)}.2"
    common = {"udp_port": 47003, "seconds": 1.5, "broadcast": False, "clock_base": NOW,
              "keys": {"01": KEY1.hex()}}
    with nh.netns_chain("h", 3) as (ns_a, ns_b, ns_c):
        a, b, c, spy_a, spy_c = nh.run_in([
            (ns_a, "node", dict(common, port=1001, address=A)),
            (ns_b, "node", dict(common, port=1002, address=[B, C1])),
            (ns_c, "node", dict(common, port=1003, address=C2)),
            (ns_a, "inspect", {"address": A, "seconds": 1.2}),
            (ns_c, "inspect", {"address": C2, "seconds": 1.2})])
    assert nh.peers(a) == {("01", B, 1002)} and nh.peers(c) == {("01", C1, 1002)}
    assert nh.peers(b) == {("01", A, 1001), ("01", C2, 1003)}
    heard_a = {s["name"]: s["addresses"] for s in spy_a["services"]}
    heard_c = {s["name"]: s["addresses"] for s in spy_c["services"]}
    assert sorted(map(tuple, heard_a.values())) == [(A,), (B,)]
    assert sorted(map(tuple, heard_c.values())) == [(C1,), (C2,)]
    assert not heard_a.keys() & heard_c.keys()  # b's two tokens cannot be matched
    announced = {t: port for r, port in ((a, 1001), (b, 1002), (c, 1003))
                 for t in r["tokens"][-1][1]}
    assert nh.leaks(spy_a, announced, {A, B}) == nh.leaks(spy_c, announced, {C1, C2}) == []
