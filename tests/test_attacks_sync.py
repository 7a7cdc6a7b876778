"""A hostile review of the sync layer: a stranger, a relay, a capability holder (an
invite holder or pub that is not a member), a member and a LAN observer, each played
against real sockets on 127.0.0.1 and the real state machines, one test per attack.

Tests marked ``xfail(strict=True)`` demonstrate a weakness that is still there (the
suite stays green; fixing it turns the test into XPASS, a failure, so the mark must
then be dropped). Plain tests show a defence that holds: most were found open by the
review and are named for the defence that closed them.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import os
import shutil
import socket
import time
import unicodedata
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from hostile_wire import Wire, open_wire
from net_helpers import (
    NOW,
    clock,
    deposit,
    founder,
    in_memory,
    joiner,
    pump,
    serving,
    state_hash,
    sync,
    sync_route,
)

from ssbmoney.app import sync as sync_mod
from ssbmoney.app.home import Home
from ssbmoney.app.pub import Pub
from ssbmoney.app.serve import Serving
from ssbmoney.core import lan
from ssbmoney.core.entry import Entry, create
from ssbmoney.core.errors import ProtocolError
from ssbmoney.core.group import encode_pub_code
from ssbmoney.core.keys import KeyPair, keypair
from ssbmoney.core.session import (
    CLOCK_TOLERANCE_MS,
    REFUSAL_SIZE,
    Candidate,
    Initiator,
    ReplayCache,
    ReplayCaches,
    bind,
    finish_response,
    respond,
    session_psk,
)
from ssbmoney.core.wire import (
    MAX_FEEDS,
    MAX_TIPS,
    Ack,
    Batch,
    Bye,
    Done,
    Error,
    Frontier,
    Hello,
    Message,
    Need,
    Ping,
    encode,
)
from ssbmoney.net import replica
from ssbmoney.net.peer import Outcome
from ssbmoney.store.group_store import Store

MALLORY = keypair(bytes([77]) * 32)  # holds a group's capability, is no member


# ------------------------------------------------------------------------ helpers


def _chain(key: KeyPair, group: bytes, n: int, tag: bytes = b"", size: int = 40,
           previous: bytes | None = None, first_seq: int = 1) -> list[Entry]:
    """``n`` validly signed entries of ``key``'s feed (content is opaque bytes: a
    capability holder cannot seal, and the store does not need it to)."""
    out = []
    for seq in range(first_seq, first_seq + n):
        made = create(key.secret, key.public, group, seq, previous, NOW,
                      hashlib.sha256(tag + b"%d" % seq).digest() * (size // 32 + 1))
        out.append(made)
        previous = made.id
    return out


def _psk(home: Home) -> bytes:
    return sync_mod.endpoint(home, home.groups()[0]).psk


def _group(home: Home) -> bytes:
    return home.groups()[0].id


@contextlib.asynccontextmanager
async def _hostile(url: str, psk: bytes, key: KeyPair = MALLORY) -> AsyncIterator[Wire]:
    """A client holding the capability (``psk``), speaking the protocol by hand."""
    async with aiohttp.ClientSession() as http:
        async with open_wire(http, url, psk, key, NOW) as wire:
            yield wire


async def _push(url: str, psk: bytes, batches: list[tuple[list[bytes], list[Any]]],
                key: KeyPair = MALLORY) -> list[Message]:
    """Say hello and an empty frontier; let the server finish streaming to us (acking
    its batches), then send each batch and wait for its ack; then Done and Bye, or stop
    at the server's Error. Returns everything the server said.

    (Waiting for the server's Done first keeps its worker thread out of the way: see
    ``test_a_peer_leaving_mid_stream_does_not_crash_the_server``.)"""
    heard: list[Message] = []
    async with _hostile(url, psk, key) as wire:

        async def until(done: Callable[[Message], bool]) -> bool:
            while (message := await wire.hear()) is not None:
                heard.append(message)
                if isinstance(message, Batch):
                    await wire.say(Ack(message.number, 0, ""))
                if isinstance(message, Error):
                    return False
                if done(message):
                    return True
            return False

        await wire.say(wire.hello(), Frontier(()), Need(()))
        if not await until(lambda m: isinstance(m, Done)):
            return heard
        for number, (entries, proofs) in enumerate(batches):
            await wire.say(Batch(number, 0, tuple(entries), tuple(tuple(p) for p in proofs)))
            if not await until(lambda m, n=number: isinstance(m, Ack) and m.number == n):
                return heard
        await wire.say(Done())
        if await until(lambda m: isinstance(m, Bye)):
            await wire.say(Bye())
    return heard


def _raw_batches(entries: list[Entry], size: int = 1000) -> list[tuple[list[bytes], list[Any]]]:
    return [([e.raw for e in entries[i:i + size]], []) for i in range(0, len(entries), size)]


def _held(home_or_dir: Home | Path, group: bytes, author: bytes) -> list[Entry]:
    directory = (home_or_dir.paths.group_dir(group) if isinstance(home_or_dir, Home)
                 else home_or_dir)
    with Store(directory, group) as store:
        return store.feed_entries(author)


def _second_group_home(root: Path) -> Home:
    """Eve's home, founding a group of her own (another secret)."""
    home = Home(root / "Eve", clock)
    home.init("Eve", bytes([9]) * 32)
    home.create_group("Other", "EUR", secret=bytes([98]) * 32)
    return home


def _pub_of(root: Path, *homes: Home, **bounds: int) -> Pub:
    pub = Pub(root / "pub")
    for home in homes:
        pub.host(encode_pub_code(home.groups()[0].keys), **bounds)
    return pub


def _run(coro: Awaitable[Any]) -> Any:
    return asyncio.run(coro)  # type: ignore[arg-type]


# ====================================================== 1. a stranger, a relay


@contextlib.asynccontextmanager
async def _recording_relay(target: str, firsts: list[bytes]) -> AsyncIterator[str]:
    """A relay without the capability that passes everything on and keeps a copy of
    each connection's first client message (what anyone on the path sees)."""

    async def handle(request: web.Request) -> web.WebSocketResponse:
        client = web.WebSocketResponse(max_msg_size=70_000)
        await client.prepare(request)
        async with aiohttp.ClientSession() as http:
            async with http.ws_connect(target + "/sync", max_msg_size=70_000) as server:
                async def pipe(src: Any, dst: Any, record: bool) -> None:
                    async for message in src:
                        if message.type is not aiohttp.WSMsgType.BINARY:
                            break
                        if record:
                            firsts.append(message.data)
                            record = False
                        await dst.send_bytes(message.data)
                    await dst.close()

                await asyncio.gather(pipe(client, server, True), pipe(server, client, False))
        return client

    async with sync_route(handle) as url:
        yield url


async def _answer(url: str, first: bytes) -> bytes:
    """What a stranger gets for sending ``first`` as message 1."""
    async with aiohttp.ClientSession() as http:
        async with http.ws_connect(url + "/sync") as ws:
            await ws.send_bytes(first)
            answer = await ws.receive(timeout=5)
            assert answer.type is aiohttp.WSMsgType.BINARY
            data: bytes = answer.data
            return data


async def _record_bos_first(ana: Home, bo: Home, url: str) -> bytes:
    """Bo syncs with the server at ``url`` through a relay that records his message 1."""
    firsts: list[bytes] = []
    async with _recording_relay(url, firsts) as relay:
        assert (await sync(bo, relay))["peers"][0]["ok"]
    return firsts[0]


def test_a_stranger_replaying_a_recorded_message_1_cannot_tell_which_server_holds_the_group(
        tmp_path: Path) -> None:
    ana, info = founder(tmp_path)
    bo = joiner(tmp_path, info, ana, "Bo", 2)
    eve = _second_group_home(tmp_path)

    async def go() -> tuple[bytes, list[bytes], list[bytes]]:
        async with serving(lambda: sync_mod.endpoints(ana)) as (_, holder):
            first = await _record_bos_first(ana, bo, holder)
            async with serving(lambda: sync_mod.endpoints(eve)) as (_, other):
                at_holder = [await _answer(holder, first) for _ in range(2)]
                at_other = [await _answer(other, first) for _ in range(2)]
                return first, at_holder, at_other

    first, at_holder, at_other = _run(go())
    assert {len(a) for a in at_holder + at_other} == {REFUSAL_SIZE}  # same size: fine
    assert at_other[0] != at_other[1]  # a server without the group: random each time
    # Past the clock window, the pad bytes (5 + 9 .. 5 + 16) repeat the same way.
    late = [respond(first, [Candidate(info.id, _psk(ana), ana.feed_keys(info).secret)],
                    NOW + CLOCK_TOLERANCE_MS + minutes * 60_000, ReplayCache())
            for minutes in (1, 2)]
    assert all(isinstance(x, bytes) for x in late)
    # What should hold: a stranger cannot tell the holder's answers from random ones.
    assert late[0][14:21] != late[1][14:21]  # type: ignore[index]
    assert at_holder[0] != at_holder[1]


@pytest.mark.xfail(strict=True, reason=(
    "the replay cache is per server process and message 1 is not bound to the responder:"
    " a message 1 recorded on the way to one home, replayed within 15 minutes to another"
    " server of the group (a pub, another member, or the same one after a restart), is"
    " answered with a real message 2 -- the stranger learns that server holds the group,"
    " and ties up a session slot waiting for message 3"))
def test_a_recorded_message_1_replayed_to_another_server_of_the_group_is_answered(
        tmp_path: Path) -> None:
    ana, info = founder(tmp_path)
    bo = joiner(tmp_path, info, ana, "Bo", 2)
    pub = _pub_of(tmp_path, ana)

    async def go() -> bytes:
        async with serving(lambda: sync_mod.endpoints(ana)) as (_, home_url):
            first = await _record_bos_first(ana, bo, home_url)
        async with serving(pub.endpoints) as (_, url):
            return await _answer(url, first)

    answer = _run(go())
    assert len(answer) == REFUSAL_SIZE, f"a {len(answer)}-byte message 2"


def test_strangers_idle_connections_make_room_for_members(tmp_path: Path) -> None:
    ana, info = founder(tmp_path)
    bo = joiner(tmp_path, info, ana, "Bo", 2)
    deposit(ana, 5)

    async def go() -> dict[str, Any]:
        async with serving(lambda: sync_mod.endpoints(ana), max_sessions=2,
                           handshake_timeout=5) as (_, url):
            async with aiohttp.ClientSession() as http:
                async with http.ws_connect(url + "/sync"), http.ws_connect(url + "/sync"):
                    await asyncio.sleep(0.1)  # say nothing at all
                    return await sync(bo, url)

    report = _run(go())
    assert report["peers"][0]["ok"], report["peers"][0]["error"]


def test_a_connection_that_never_finishes_its_http_request_is_closed(tmp_path: Path) -> None:
    ana, _ = founder(tmp_path)

    async def go() -> bool:
        async with serving(lambda: sync_mod.endpoints(ana), handshake_timeout=0.3) as (_, url):
            host, port = url[len("http://"):].split(":")
            reader, writer = await asyncio.open_connection(host, int(port))
            writer.write(b"GET /sync HTTP/1.1\r\nHost: x\r\n")  # and never the rest
            await writer.drain()
            try:
                await asyncio.wait_for(reader.read(), 2)
                return True
            except TimeoutError:
                return False
            finally:
                writer.close()

    assert _run(go()), "still open 2 s later (the handshake timeout is 0.3 s)"


# ================================================= 2. a capability holder, no member


def _honest_session(a: Home, b: Home) -> None:
    """One session between two honest homes, on the real machines and stores, in memory
    (no worker threads: see the segfault test below for why not over a socket here)."""
    sides = in_memory(a, b)
    try:
        pump(*sides)
    except ProtocolError as err:
        pytest.fail(f"the honest session failed: {err}")
    finally:
        for side in sides:
            side.store.close()


def _deliver(home: Home, entries: list[Entry]) -> None:
    """A capability holder pushes ``entries`` to ``home``'s server, over a socket."""

    async def go() -> None:
        async with serving(lambda: sync_mod.endpoints(home)) as (_, url):
            await _push(url, _psk(home), _raw_batches(entries))

    _run(go())


def test_a_feed_with_too_many_branches_does_not_cut_the_home_off(
        tmp_path: Path) -> None:
    ana, info = founder(tmp_path)
    bo = joiner(tmp_path, info, ana, "Bo", 2)
    _deliver(ana, [_chain(MALLORY, info.id, 1, tag=b"branch %d" % n)[0]
                   for n in range(MAX_TIPS + 1)])
    assert len(_held(ana, info.id, MALLORY.public)) == MAX_TIPS + 1  # all of them stored
    deposit(ana, 4242)
    _honest_session(ana, bo)
    assert state_hash(ana) == state_hash(bo)


def test_twenty_thousand_feeds_do_not_cut_the_home_off(tmp_path: Path) -> None:
    ana, info = founder(tmp_path)
    bo = joiner(tmp_path, info, ana, "Bo", 2)
    _deliver(ana, [create(k.secret, k.public, info.id, 1, None, NOW, b"x") for k in (
        keypair(hashlib.sha256(b"sybil %d" % n).digest()) for n in range(MAX_FEEDS))])
    with ana.store(info) as store:
        assert len(store.heads()) > MAX_FEEDS  # stored, every one
    _honest_session(ana, bo)


def test_a_feed_forked_at_many_sequences_does_not_cut_the_home_off(
        tmp_path: Path) -> None:
    ana, info = founder(tmp_path)
    bo = joiner(tmp_path, info, ana, "Bo", 2)
    _deliver(ana, _chain(MALLORY, info.id, 1001, tag=b"one")
             + _chain(MALLORY, info.id, 1001, tag=b"two"))
    with ana.store(info) as store:
        assert len(store.forks()) == 1001 and len(replica.frontier(store)[MALLORY.public]) == 2
    _honest_session(ana, bo)


_SERVER = """
import asyncio, hashlib, sys
from pathlib import Path
sys.path.insert(0, sys.argv[2])
from net_helpers import NOW, clock, founder
from ssbmoney.app import sync as sync_mod
from ssbmoney.core.entry import create
from ssbmoney.core.keys import keypair
from ssbmoney.net.server import SyncServer
ana, info = founder(Path(sys.argv[1]))
with ana.store(info) as store:
    store.ingest([create(k.secret, k.public, info.id, 1, None, NOW, b"x") for k in (
        keypair(hashlib.sha256(b"feed %d" % i).digest()) for i in range(3000))])

async def main():
    server = SyncServer(lambda: sync_mod.endpoints(ana), clock, live=False)
    print(await server.start("127.0.0.1", 0), flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
"""


def test_a_peer_leaving_mid_stream_does_not_crash_the_server(tmp_path: Path) -> None:
    import subprocess
    import sys

    server = subprocess.Popen(
        [sys.executable, "-c", _SERVER, str(tmp_path), str(Path(__file__).parent)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=Path(__file__).parent.parent)
    try:
        assert server.stdout is not None
        url = f"http://127.0.0.1:{int(server.stdout.readline())}"
        psk = _psk(Home(tmp_path / "Ana", clock))

        async def leave_mid_stream() -> None:
            async with _hostile(url, psk) as wire:
                await wire.say(wire.hello(), Frontier(()), Need(()))
                while (message := await wire.hear()) is not None:
                    if isinstance(message, Batch):
                        if message.number == 1:
                            return  # and the socket closes, as on Ctrl-C
                        await wire.say(Ack(message.number, 0, ""))

        async def go() -> None:
            for _ in range(20):
                with contextlib.suppress(aiohttp.ClientError, OSError):
                    await leave_mid_stream()
                await asyncio.sleep(0.05)
                if server.poll() is not None:
                    return

        _run(go())
        assert server.poll() is None, f"the server died (exit status {server.returncode})"
    finally:
        server.kill()
        server.wait()


def test_entries_smuggled_in_fork_proofs_meet_a_pubs_bounds(tmp_path: Path) -> None:
    ana, info = founder(tmp_path)
    pub = _pub_of(tmp_path, ana, feed_entries=10, group_bytes=20_000)
    entries = _chain(MALLORY, info.id, 60, size=500)
    pairs = [(entries[i].raw, entries[i + 1].raw) for i in range(0, len(entries), 2)]

    async def go() -> None:
        async with serving(pub.endpoints) as (_, url):
            await _push(url, _psk(ana), [([], pairs)])

    _run(go())
    directory = pub.paths.pub_group_dir(info.id)
    held = _held(directory, info.id, MALLORY.public)
    with Store(directory, info.id) as store:
        end = store.end()
    assert len(held) <= 10 and end <= 20_000, (len(held), end)


def test_a_pub_refusing_many_feeds_does_not_break_the_members_sync(tmp_path: Path) -> None:
    ana, info = founder(tmp_path)
    pub = _pub_of(tmp_path, ana, feed_entries=2)
    sybils = [keypair(hashlib.sha256(b"long feed %d" % n).digest()) for n in range(12)]
    _deliver(ana, [e for k in sybils for e in _chain(k, info.id, 3)])

    async def go() -> dict[str, Any]:
        async with serving(pub.endpoints) as (_, url):
            return await sync(ana, url)

    report = _run(go())
    assert report["peers"][0]["ok"], report["peers"][0]["error"]


def test_branches_meet_a_pubs_bounds(tmp_path: Path) -> None:
    ana, info = founder(tmp_path)
    pub = _pub_of(tmp_path, ana, feed_entries=10)
    branches = [_chain(MALLORY, info.id, 1, tag=b"b%d" % n)[0] for n in range(40)]

    async def go() -> None:
        async with serving(pub.endpoints) as (_, url):
            await _push(url, _psk(ana), _raw_batches(branches))

    _run(go())
    assert len(_held(pub.paths.pub_group_dir(info.id), info.id, MALLORY.public)) <= 10


def test_fork_proofs_of_feeds_not_held_are_not_kept(tmp_path: Path) -> None:
    ana, info = founder(tmp_path)
    pub = _pub_of(tmp_path, ana, group_bytes=20_000)
    keys = [keypair(hashlib.sha256(b"orphan %d" % n).digest()) for n in range(50)]
    pairs = [(create(k.secret, k.public, info.id, 5, bytes(32), NOW, b"a" * 8000).raw,
              create(k.secret, k.public, info.id, 5, bytes(32), NOW, b"b" * 8000).raw)
             for k in keys]

    async def go() -> None:
        async with serving(pub.endpoints) as (_, url):
            await _push(url, _psk(ana), [([], pairs)])

    _run(go())
    with Store(pub.paths.pub_group_dir(info.id), info.id) as store:
        assert store.count() == 0
        assert store.forks() == [], f"{len(store.forks())} proofs, no entry of their feeds"


def test_a_need_naming_one_feed_many_times_sends_it_once(
        tmp_path: Path) -> None:
    ana, info = founder(tmp_path)
    deposit(ana, 1, 50)
    with ana.store(info) as store:
        mine = replica.frontier(store)
    feed = ana.feed_keys(info).public
    held = len(_held(ana, info.id, feed))

    async def go() -> int:
        got = 0
        async with serving(lambda: sync_mod.endpoints(ana)) as (_, url):
            async with _hostile(url, _psk(ana)) as wire:
                # The same frontier as hers (nothing to plan), and a Need of one feed x 40.
                await wire.say(wire.hello(), Frontier(tuple(sorted(mine.items()))),
                               Need((feed,) * 40))
                while (message := await wire.hear()) is not None:
                    if isinstance(message, Batch):
                        got += len(message.entries)
                        await wire.say(Ack(message.number, 0, ""))
                    if isinstance(message, Done):
                        await wire.say(Done())
                    if isinstance(message, Bye | Error):
                        break
        return got

    got = _run(go())
    assert got <= held, f"{got} entries sent for a feed of {held}"


def test_pings_cannot_keep_a_catch_up_open_for_ever(tmp_path: Path) -> None:
    ana, _ = founder(tmp_path)
    deposit(ana, 5, 10)
    outcomes: list[Outcome] = []

    async def go() -> int:
        async with serving(lambda: sync_mod.endpoints(ana), live=False, idle_timeout=0.5,
                           on_outcome=outcomes.append) as (server, url):
            async with _hostile(url, _psk(ana)) as wire:
                await wire.say(wire.hello(), Frontier(()))
                for _ in range(20):  # 4 s: eight idle timeouts
                    await asyncio.sleep(0.2)
                    await wire.say(Ping())
                return server.sessions

    still_open = _run(go())
    assert not still_open and outcomes, "the session was still open after 8 idle timeouts"


def test_one_groups_capability_holder_cannot_lock_out_another_group(
        tmp_path: Path) -> None:
    ana, info = founder(tmp_path)
    bo = joiner(tmp_path, info, ana, "Bo", 2)
    eve = _second_group_home(tmp_path)
    pub = _pub_of(tmp_path, ana, eve)
    limit = 8  # REPLAY_CACHE_MAX is 100,000: ~56 handshakes a second for 30 minutes

    async def go() -> dict[str, Any]:
        async with serving(pub.endpoints) as (server, url):
            server.cache = ReplayCaches(limit=limit)  # the server's kind, made small
            async with aiohttp.ClientSession() as http:
                for _ in range(limit):
                    async with http.ws_connect(url + "/sync") as ws:
                        await ws.send_bytes(Initiator(_psk(eve), MALLORY.secret, NOW).first)
                        await ws.receive(timeout=5)  # message 2; then just leave
            return await sync(bo, url)

    report = _run(go())
    assert report["peers"][0]["ok"], report["peers"][0]["error"]


@contextlib.asynccontextmanager
async def _hostile_server(home: Home, script: Callable[[Wire], Awaitable[None]]
                          ) -> AsyncIterator[str]:
    """A server holding ``home``'s group capability that answers the handshake for
    real and then runs ``script``."""
    info = home.groups()[0]
    candidate = Candidate(info.id, _psk(home), MALLORY.secret)

    async def handle(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        answer = respond((await ws.receive()).data, [candidate], NOW, ReplayCache())
        assert not isinstance(answer, bytes)
        await ws.send_bytes(answer.second)
        transport = finish_response(answer, (await ws.receive()).data)
        await script(Wire(ws, transport, MALLORY))
        await ws.close()
        return ws

    async with sync_route(handle) as url:
        yield url


def _controls(text: str) -> list[str]:
    return [c for c in text if unicodedata.category(c) == "Cc"]


def test_a_peers_error_text_cannot_carry_terminal_escapes(tmp_path: Path) -> None:
    ana, info = founder(tmp_path)
    bo = joiner(tmp_path, info, ana, "Bo", 2)
    lie = "\x1b[2K\r\x1b[1Acaught up with http://127.0.0.1:1\x1b]0;owned\x07"

    async def script(wire: Wire) -> None:
        await wire.say(wire.hello(), Error(lie))

    async def go() -> tuple[dict[str, Any], str]:
        async with _hostile_server(bo, script) as url:
            return await sync(bo, url), url

    report, url = _run(go())
    shown = report["peers"][0]["error"]
    kept = sync_mod.peer_records(bo, info)[url]["last_error"]  # `group urls list` shows it
    assert "caught up with" in shown and "caught up with" in kept  # it came through
    assert not _controls(shown) and not _controls(kept), repr(shown)


# ============================================================== 3. members' homes


def test_a_new_entry_on_a_feed_both_homes_know_forked_reaches_the_other_home(
        tmp_path: Path) -> None:
    ana, info = founder(tmp_path)
    bo = joiner(tmp_path, info, ana, "Bo", 2)
    shutil.copytree(bo.paths.root, tmp_path / "Bo-laptop")
    laptop = Home(tmp_path / "Bo-laptop", clock)
    deposit(bo, 11)
    deposit(laptop, 22)  # the same feed, the same sequence: a fork (a copied home)
    feed = bo.feed_keys(info).public

    async def go() -> dict[str, Any]:
        async with serving(lambda: sync_mod.endpoints(ana)) as (_, url):
            for home in (bo, laptop, bo):
                assert (await sync(home, url))["peers"][0]["ok"]
            assert len(_held(ana, info.id, feed)) == len(_held(bo, info.id, feed)) == 3
            deposit(bo, 33)  # Bo goes on writing, as the README says he may
            return await sync(bo, url)

    report = _run(go())
    assert report["peers"][0]["ok"]
    assert len(_held(ana, info.id, feed)) == 4, "Bo's new deposit did not reach Ana"
    assert state_hash(ana) == state_hash(bo)


# ============================================================ 4. a LAN observer


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_a_replayed_lan_token_cannot_point_a_home_at_another_port(tmp_path: Path) -> None:
    ana, info = founder(tmp_path)
    udp_port = _free_udp_port()
    token = lan.make_token(lan.lan_key(info.keys.sync_cap), time.time_ns() // 1_000_000,
                           os.urandom(lan.NONCE_LEN))
    # (as a member's home announces its group; an observer copies it off the LAN)
    hits: list[int] = []

    async def go() -> None:
        listeners = []
        for _ in range(12):
            def counted(r: Any, w: Any, n: int = len(listeners)) -> None:
                hits.append(n)
                w.close()
            listeners.append(await asyncio.start_server(counted, "127.0.0.1", 0))
        ports = [srv.sockets[0].getsockname()[1] for srv in listeners]
        serving_ = Serving(lambda: sync_mod.endpoints(ana), clock, io.StringIO(), ana)
        await serving_.start("127.0.0.1", 0)
        await serving_.start_lan(serving_.server.port, udp_port=udp_port, mdns=False,
                                 broadcast_address="127.0.0.1", beacon_interval=0.1)
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as observer:
                for port in ports:
                    observer.sendto(lan.encode_beacon(token, port), ("127.0.0.1", udp_port))
            for _ in range(40):
                await asyncio.sleep(0.05)
                if len(set(hits)) == len(ports):
                    break
        finally:
            await serving_.close()
            for srv in listeners:
                srv.close()

    _run(go())
    assert len(set(hits)) <= 1, f"the home connected to {len(set(hits))} ports it was told of"


@pytest.mark.xfail(strict=True, reason=(
    "tokens are fresh and unlinkable, but every announcement of a home -- each of its"
    " groups, and every rotation -- carries the same TCP port from the same address: an"
    " observer links them all and counts the home's groups: a known limit, stated in the"
    " README (LAN discovery, threat model)"))
def test_a_homes_lan_announcements_cannot_be_linked_by_what_they_carry(tmp_path: Path) -> None:
    ana, info = founder(tmp_path)
    ana.create_group("Second", "EUR", secret=bytes([97]) * 32)
    udp_port = _free_udp_port()
    seen: list[tuple[str, int]] = []

    async def go() -> None:
        observer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        observer.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        observer.bind(("127.0.0.1", udp_port))  # more specific than the home's own bind
        observer.setblocking(False)
        serving_ = Serving(lambda: sync_mod.endpoints(ana), clock, io.StringIO(), ana)
        await serving_.start("127.0.0.1", 0)
        await serving_.start_lan(serving_.server.port, udp_port=udp_port, mdns=False,
                                 broadcast_address="127.0.0.1", beacon_interval=0.05,
                                 rotate_ms=150)
        try:
            for _ in range(30):
                await asyncio.sleep(0.05)
                with contextlib.suppress(BlockingIOError):
                    while True:
                        beacon = lan.decode_beacon(observer.recv(100))
                        if beacon is not None and beacon not in seen:
                            seen.append(beacon)
        finally:
            await serving_.close()
            observer.close()

    _run(go())
    tokens = {token for token, _ in seen}
    assert len(tokens) >= 4  # two groups, and rotations: every token fresh
    ports = {port for _, port in seen}
    assert len(ports) == len(tokens), f"{len(tokens)} tokens, all on port {ports}"


# ===================================================== defences that held (plain)


def test_a_session_for_one_group_stores_nothing_of_another_group(tmp_path: Path) -> None:
    """A pub hosting two groups: entries of group B sent in a session opened with group
    A's capability, as entries or inside fork proofs, are refused (wrong group) and
    neither store changes."""
    ana, info = founder(tmp_path)
    eve = _second_group_home(tmp_path)
    pub = _pub_of(tmp_path, ana, eve)
    of_b = _chain(MALLORY, _group(eve), 3)
    fork_b = _chain(MALLORY, _group(eve), 1, tag=b"other")[0]

    async def go() -> list[list[Message]]:
        async with serving(pub.endpoints) as (_, url):
            return [await _push(url, _psk(ana), batches) for batches in (
                _raw_batches(of_b), [([], [(of_b[0].raw, fork_b.raw)])])]

    for heard in _run(go()):
        assert any(isinstance(m, Error) and "wrong_group" in m.text for m in heard), heard
    for group in (info.id, _group(eve)):
        with Store(pub.paths.pub_group_dir(group), group) as store:
            assert MALLORY.public not in store.heads() and store.forks() == []


def test_a_hello_not_bound_to_the_session_ends_it_before_anything_is_stored(
        tmp_path: Path) -> None:
    ana, info = founder(tmp_path)
    other = keypair(bytes([78]) * 32)
    entries = _chain(MALLORY, info.id, 3)
    outcomes: list[Outcome] = []

    async def go() -> list[Message]:
        heard: list[Message] = []
        async with serving(lambda: sync_mod.endpoints(ana),
                           on_outcome=outcomes.append) as (_, url):
            for hello in ("other key", "other hash"):
                async with _hostile(url, _psk(ana)) as wire:
                    if hello == "other key":  # claims a key the handshake did not use
                        fake = Hello(other.public, bind(other.secret,
                                                        wire.transport.handshake_hash),
                                     bytes(32), False)
                    else:  # our key, signing another session's hash
                        fake = Hello(MALLORY.public, bind(MALLORY.secret, bytes(64)),
                                     bytes(32), False)
                    await wire.say(fake, Frontier(()), Need(()),
                                   Batch(0, 3, tuple(e.raw for e in entries), ()))
                    while (message := await wire.hear()) is not None:
                        heard.append(message)
        return heard

    heard = _run(go())
    assert [type(m) for m in heard] == [Hello, Hello]  # its hello, then the door closes
    assert [o.error for o in outcomes] == ["the peer's key is not bound to this session"] * 2
    assert _held(ana, info.id, MALLORY.public) == []


def test_transport_messages_cannot_be_spliced_across_sessions() -> None:
    """A relay holding two sessions of one group (same psk, same keys) cannot move a
    message of one into the other, nor reflect a message back to its sender."""
    psk = session_psk(bytes([7]) * 32)
    server = keypair(bytes([3]) * 32)
    group = bytes([1]) * 32
    pairs = []
    for _ in range(2):
        me = Initiator(psk, MALLORY.secret, NOW)
        answer = respond(me.first, [Candidate(group, psk, server.secret)], NOW, ReplayCache())
        assert not isinstance(answer, bytes)
        third, mine = me.finish(answer.second)
        pairs.append((mine, finish_response(answer, third)))
    (a_client, a_server), (b_client, b_server) = pairs
    sealed = a_client.seal(encode(Ping()))[0]
    with pytest.raises(ProtocolError):
        b_server.open(sealed)  # another session
    with pytest.raises(ProtocolError):
        a_client.open(sealed)  # reflected to its sender
    assert a_server.open(sealed)  # where it belongs


def test_odd_but_well_formed_frontiers_and_needs_send_nothing_and_end_cleanly(
        tmp_path: Path) -> None:
    """A peer claiming to be far ahead on every feed, and needing feeds nobody holds,
    gets nothing it did not ask for, and the session still ends with a clean Bye."""
    ana, info = founder(tmp_path)
    deposit(ana, 5, 3)
    with ana.store(info) as store:
        mine = replica.frontier(store)
    ahead = tuple((feed, ((2**53 - 1, bytes(32)),)) for feed in sorted(mine))

    async def go() -> list[Message]:
        heard: list[Message] = []
        async with serving(lambda: sync_mod.endpoints(ana)) as (_, url):
            async with _hostile(url, _psk(ana)) as wire:
                await wire.say(wire.hello(), Frontier(ahead),
                               Need(tuple(bytes([n]) * 32 for n in range(50))))
                while (message := await wire.hear()) is not None:
                    heard.append(message)
                    if isinstance(message, Need):
                        await wire.say(Done())
                    if isinstance(message, Bye):
                        await wire.say(Bye())
                        break
        return heard

    heard = _run(go())
    assert not any(isinstance(m, Batch) for m in heard)
    assert isinstance(heard[-1], Bye) and not any(isinstance(m, Error) for m in heard)


def test_live_pushes_are_not_echoed_and_stay_in_their_group(tmp_path: Path) -> None:
    """A pub hosting two groups with a live member of each: what Bo writes reaches the
    pub, is not pushed back to Bo, and nothing of it reaches Eve's group."""
    ana, info = founder(tmp_path)
    bo = joiner(tmp_path, info, ana, "Bo", 2)
    eve = _second_group_home(tmp_path)
    pub = _pub_of(tmp_path, ana, eve)

    async def go() -> tuple[dict[str, Any], dict[str, Any]]:
        async with serving(pub.endpoints) as (_, url):
            stop = asyncio.Event()
            bo_live = asyncio.ensure_future(sync(bo, url, live=True, stop=stop))
            eve_live = asyncio.ensure_future(sync(eve, url, live=True, stop=stop))
            await asyncio.sleep(0.5)
            await asyncio.to_thread(deposit, bo, 99, 3)
            feed = bo.feed_keys(info).public
            for _ in range(60):
                await asyncio.sleep(0.05)
                if len(_held(pub.paths.pub_group_dir(info.id), info.id, feed)) >= 5:
                    break
            await asyncio.sleep(2 * 0.2 + 0.1)  # two live polls: room for an echo
            stop.set()
            return await bo_live, await eve_live

    bo_report, eve_report = _run(go())
    assert bo_report["peers"][0]["ok"] and eve_report["peers"][0]["ok"]
    assert bo_report["sent"] >= 3 and bo_report["received"] == 0
    with eve.store(eve.groups()[0]) as store:
        assert set(store.heads()) == {eve.feed_keys(eve.groups()[0]).public}
