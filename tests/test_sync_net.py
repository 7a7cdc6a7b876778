"""Sync over real sockets on 127.0.0.1: members, a pub, strangers and a meddling relay."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from net_helpers import (
    NOW,
    clock,
    deposit,
    founder,
    joiner,
    serving,
    state_hash,
    sync,
    sync_route,
)

from ssbmoney.app import sync as sync_mod
from ssbmoney.app.actions import Session
from ssbmoney.app.home import Home
from ssbmoney.app.pub import Pub
from ssbmoney.core.group import encode_pub_code
from ssbmoney.core.session import REFUSAL_SIZE, Initiator, session_psk
from ssbmoney.net.client import sync_group
from ssbmoney.net.server import SyncServer
from ssbmoney.store.group_store import Store


def _act(home: Home, do: Callable[[Session], Any]) -> Any:
    info = home.groups()[0]
    with home.store(info) as store:
        return do(Session(home, info, store))


def _pub(root: Path, home: Home) -> Pub:
    pub = Pub(root / "pub")
    pub.host(encode_pub_code(home.groups()[0].keys))
    return pub


def _log_size(home: Home) -> int:
    info = home.groups()[0]
    with home.store(info) as store:
        return store.end()


@pytest.mark.parametrize("order", list(itertools.permutations("abc"))[:3])
def test_three_members_and_a_pub_converge_in_any_order(tmp_path: Path,
                                                       order: tuple[str, ...]) -> None:
    ana, info = founder(tmp_path)
    homes = {"a": ana, "b": joiner(tmp_path, info, ana, "Bo", 2),
             "c": joiner(tmp_path, info, ana, "Cy", 3)}
    for n, home in enumerate(homes.values()):
        deposit(home, 100 + n, 5 + n)
    pub = _pub(tmp_path, ana)

    async def go() -> None:
        async with serving(pub.endpoints) as (_, url):
            for name in order:
                report = await sync(homes[name], url)
                assert report["peers"][0]["ok"], report
            for name in order[:2]:  # the first ones pick up what came after them
                await sync(homes[name], url)

    asyncio.run(go())
    hashes = {state_hash(h) for h in homes.values()}
    assert len(hashes) == 1


def test_a_member_syncs_through_the_pub_without_meeting_the_others(tmp_path: Path) -> None:
    ana, info = founder(tmp_path)
    bo = joiner(tmp_path, info, ana, "Bo", 2)
    deposit(ana, 4200)
    pub = _pub(tmp_path, ana)

    async def go() -> dict[str, Any]:
        async with serving(pub.endpoints) as (_, url):
            await sync(ana, url)
            return await sync(bo, url)

    report = asyncio.run(go())
    assert report["received"] >= 2 and report["groups"][0]["received"] == report["received"]
    assert state_hash(ana) == state_hash(bo)
    assert _act(bo, lambda s: s.view()["balance"]) == 4200


def test_strangers_and_wrong_capabilities_are_refused_before_any_data(tmp_path: Path) -> None:
    ana, info = founder(tmp_path)
    deposit(ana, 10)
    before = _log_size(ana)
    outsider, _ = founder(tmp_path / "elsewhere", "Eve", 9)  # a group of her own

    async def go() -> None:
        async with serving(lambda: sync_mod.endpoints(ana)) as (_, url):
            report = await sync(outsider, url)
            assert not report["peers"][0]["ok"]
            assert "shares none" in report["peers"][0]["error"]
            assert report["received"] == 0 and report["groups"] == []
            # By hand: a message 1 under a wrong key gets 37 random bytes, then a close.
            async with aiohttp.ClientSession() as http:
                async with http.ws_connect(url + "/sync") as ws:
                    wrong = Initiator(session_psk(bytes(32)), ana.feed_keys(info).secret, NOW)
                    await ws.send_bytes(wrong.first)
                    answer = await ws.receive()
                    assert answer.type is aiohttp.WSMsgType.BINARY
                    assert len(answer.data) == REFUSAL_SIZE
                    assert (await ws.receive()).type in (aiohttp.WSMsgType.CLOSE,
                                                         aiohttp.WSMsgType.CLOSED)
                async with http.get(url + "/") as response:
                    assert response.status == 404
                    assert "Server" not in response.headers

    asyncio.run(go())
    assert _log_size(ana) == before


@contextlib.asynccontextmanager
async def _relay(target: str, meddle: Callable[[int, bytes], bytes | None]
                 ) -> AsyncIterator[str]:
    """A man in the middle without the capability: passes WebSocket messages on, through
    ``meddle(index, data)`` (None drops the message), both ways."""
    counter = itertools.count()

    async def handle(request: web.Request) -> web.WebSocketResponse:
        client = web.WebSocketResponse(max_msg_size=70_000)
        await client.prepare(request)
        async with aiohttp.ClientSession() as http:
            async with http.ws_connect(target + "/sync", max_msg_size=70_000) as server:
                async def pipe(src: Any, dst: Any) -> None:
                    async for message in src:
                        if message.type is not aiohttp.WSMsgType.BINARY:
                            break
                        data = meddle(next(counter), message.data)
                        if data is not None:
                            await dst.send_bytes(data)
                    await dst.close()

                await asyncio.gather(pipe(client, server), pipe(server, client))
        return client

    async with sync_route(handle) as url:
        yield url


@pytest.mark.parametrize("attack", ["alter", "replay", "drop"])
def test_a_relay_without_the_capability_can_neither_alter_replay_nor_cut(
        tmp_path: Path, attack: str) -> None:
    ana, info = founder(tmp_path)
    bo = joiner(tmp_path, info, ana, "Bo", 2)
    deposit(ana, 5, 3000)
    seen: list[bytes] = []

    def meddle(index: int, data: bytes) -> bytes | None:
        seen.append(data)
        if index == 6 and attack == "alter":
            return data[:-1] + bytes([data[-1] ^ 1])
        if index == 6 and attack == "replay":
            return seen[4]
        if index >= 6 and attack == "drop":
            return None
        return data

    async def go() -> dict[str, Any]:
        async with serving(lambda: sync_mod.endpoints(ana)) as (_, url):
            async with _relay(url, meddle) as relay:
                return await sync(bo, relay)

    report = asyncio.run(go())
    assert not report["peers"][0]["ok"]
    # Whatever was stored is a valid prefix; a plain sync afterwards completes.
    assert b"Flat" not in b"".join(seen)  # the relay saw no plaintext either

    async def again() -> dict[str, Any]:
        async with serving(lambda: sync_mod.endpoints(ana)) as (_, url):
            return await sync(bo, url)

    assert asyncio.run(again())["peers"][0]["ok"]
    assert state_hash(ana) == state_hash(bo)


def test_a_sync_interrupted_halfway_resumes_and_completes(tmp_path: Path) -> None:
    ana, info = founder(tmp_path)
    bo = joiner(tmp_path, info, ana, "Bo", 2)
    deposit(ana, 5, 6000)

    async def go() -> None:
        async with serving(lambda: sync_mod.endpoints(ana)) as (_, url):
            got: list[int] = []

            def progress(p: Any) -> None:
                if p.received:  # reported once a received batch is stored
                    got.append(p.received)

            task = asyncio.ensure_future(sync_group(url, sync_mod.endpoint(bo, bo.groups()[0]),
                                                    clock, progress=progress))
            while not got:
                await asyncio.sleep(0.001)
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            held = _ana_entries(bo)
            assert held > 0  # the first batch was stored before the cut
            report = await sync(bo, url)
            assert report["peers"][0]["ok"]
            # The resumed sync sends only what the cut one had not stored.
            assert report["received"] == _ana_entries(ana) - held

    def _ana_entries(home: Home) -> int:
        with home.store(info) as store:
            return len(store.feed_entries(ana.feed_keys(info).public))

    asyncio.run(go())
    assert state_hash(ana) == state_hash(bo)


def test_a_live_connection_delivers_a_new_entry_without_a_new_sync(tmp_path: Path) -> None:
    ana, info = founder(tmp_path)
    bo = joiner(tmp_path, info, ana, "Bo", 2)

    async def go() -> None:
        async with serving(lambda: sync_mod.endpoints(ana)) as (_, url):
            stop = asyncio.Event()
            task = asyncio.ensure_future(sync(bo, url, live=True, stop=stop))
            await asyncio.sleep(0.5)
            await asyncio.to_thread(deposit, ana, 777)
            for _ in range(100):
                await asyncio.sleep(0.05)
                if _act(bo, lambda s: s.view()["balance"]) == 777:
                    break
            stop.set()
            report = await task
            assert report["peers"][0]["ok"], report
            assert report["received"] >= 1

    asyncio.run(go())
    assert _act(bo, lambda s: s.view()["balance"]) == 777


def test_a_sync_that_changes_an_outcome_reports_it(tmp_path: Path) -> None:
    ana, info = founder(tmp_path)
    bo = joiner(tmp_path, info, ana, "Bo", 2)
    deposit(ana, 100)
    proposal = _act(ana, lambda s: s.propose("Kettle", "20"))

    async def go() -> dict[str, Any]:
        async with serving(lambda: sync_mod.endpoints(ana)) as (_, url):
            await sync(bo, url)
            pid = "%" + __import__("base64").b64encode(proposal.id).decode()
            _act(ana, lambda s: s.vote(pid, "yes"))
            _act(ana, lambda s: s.close(pid))
            return await sync(bo, url)

    report = asyncio.run(go())
    assert [(c["title"], c["from"], c["to"]) for c in report["changed"]] == [
        ("Kettle", "open", "approved")]


def test_a_pub_refuses_a_feed_past_its_bound_and_keeps_serving_the_rest(
        tmp_path: Path) -> None:
    ana, info = founder(tmp_path)
    bo = joiner(tmp_path, info, ana, "Bo", 2)
    deposit(bo, 1, 20)
    pub = Pub(tmp_path / "pub")
    pub.host(encode_pub_code(info.keys), feed_entries=10)

    async def go() -> tuple[dict[str, Any], dict[str, Any]]:
        async with serving(pub.endpoints) as (_, url):
            first = await sync(bo, url)
            return first, await sync(ana, url)

    first, second = asyncio.run(go())
    assert any("bound of 10 entries" in r for r in first["peers"][0]["refused"])
    assert first["sent"] == 10
    assert second["peers"][0]["ok"] and second["received"] == 10
    with Store(pub.paths.pub_group_dir(info.id), info.id) as store:
        assert store.heads()[bo.feed_keys(info).public].seq == 10


def test_the_pubs_files_hold_no_plaintext(tmp_path: Path) -> None:
    ana, info = founder(tmp_path)
    marker = "plaintext-marker-4711"
    ana.post(info, [__import__("ssbmoney.core.content", fromlist=["Deposit"]).Deposit(
        5, marker)])
    pub = _pub(tmp_path, ana)

    async def go() -> None:
        async with serving(pub.endpoints) as (_, url):
            assert (await sync(ana, url))["peers"][0]["ok"]

    asyncio.run(go())
    stored = b"".join(p.read_bytes() for p in (tmp_path / "pub").rglob("*") if p.is_file())
    assert len(stored) > 1000
    assert marker.encode() not in stored and b"Flat" not in stored


def test_both_branches_of_a_forked_feed_reach_every_home(tmp_path: Path) -> None:
    import shutil

    ana, info = founder(tmp_path)
    bo = joiner(tmp_path, info, ana, "Bo", 2)
    cy = joiner(tmp_path, info, ana, "Cy", 3)
    shutil.copytree(bo.paths.root, tmp_path / "Bo-laptop")
    laptop = Home(tmp_path / "Bo-laptop", clock)
    deposit(bo, 11)
    deposit(laptop, 22)  # the same feed, the same sequence: a fork
    pub = _pub(tmp_path, ana)

    async def go() -> None:
        async with serving(pub.endpoints) as (_, url):
            for home in (bo, laptop, ana, cy, bo, laptop):
                assert (await sync(home, url))["peers"][0]["ok"]

    asyncio.run(go())
    feed = bo.feed_keys(info).public
    for home in (ana, bo, laptop, cy):
        with home.store(info) as store:
            assert {e.seq for e in store.feed_entries(feed)} == {1, 2}
            assert len(store.entries_at(feed, 2)) == 2
            assert any(p.author == feed for p in store.forks())
    assert len({state_hash(h) for h in (ana, bo, laptop, cy)}) == 1
    kinds = {w["kind"] for w in _act(cy, lambda s: s.view()["warnings"])}
    assert "fork" in kinds


def test_a_pub_keeps_a_group_within_its_byte_bound(tmp_path: Path) -> None:
    ana, info = founder(tmp_path)
    deposit(ana, 1, 300)  # ~150 KB of entries
    pub = Pub(tmp_path / "pub")
    pub.host(encode_pub_code(info.keys), group_bytes=40_000)

    async def go() -> dict[str, Any]:
        async with serving(pub.endpoints) as (_, url):
            return await sync(ana, url)

    report = asyncio.run(go())
    assert any("bound of 40000 bytes" in r for r in report["peers"][0]["refused"])
    assert 0 < report["sent"] < 300
    with Store(pub.paths.pub_group_dir(info.id), info.id) as store:
        assert store.end() <= 40_000


def test_a_sync_stopped_before_catching_up_says_so(tmp_path: Path) -> None:
    ana, info = founder(tmp_path)
    bo = joiner(tmp_path, info, ana, "Bo", 2)
    deposit(ana, 5, 6000)

    async def go() -> Any:
        async with serving(lambda: sync_mod.endpoints(ana)) as (_, url):
            stop = asyncio.Event()
            return await sync_group(url, sync_mod.endpoint(bo, info), clock, stop=stop,
                                    progress=lambda p: stop.set())

    outcome = asyncio.run(go())
    assert outcome.kind == "interrupted" and "before catching up" in outcome.error
    assert not outcome.caught_up


def test_a_peer_that_never_answers_times_out(tmp_path: Path) -> None:
    ana, info = founder(tmp_path)

    async def go() -> Any:
        silent = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
        port = silent.sockets[0].getsockname()[1]
        try:
            return await sync_group(f"http://127.0.0.1:{port}", sync_mod.endpoint(ana, info),
                                    clock, connect_timeout=0.5)
        finally:
            silent.close()

    outcome = asyncio.run(go())
    assert outcome.kind == "unreachable" and "no answer within 0.5 s" in outcome.error


def test_a_live_sync_comes_back_when_its_peer_does(tmp_path: Path) -> None:
    ana, info = founder(tmp_path)
    bo = joiner(tmp_path, info, ana, "Bo", 2)
    lost: list[str] = []

    async def go() -> dict[str, Any]:
        server = SyncServer(lambda: sync_mod.endpoints(ana), clock)
        port = await server.start("127.0.0.1", 0)
        url = f"http://127.0.0.1:{port}"
        stop = asyncio.Event()
        live = asyncio.ensure_future(sync(bo, url, live=True, stop=stop, notify=lost.append))
        await asyncio.sleep(0.5)
        await server.close()  # the peer goes away...
        while not lost:
            await asyncio.sleep(0.05)
        await asyncio.to_thread(deposit, ana, 5)
        server = SyncServer(lambda: sync_mod.endpoints(ana), clock)
        await server.start("127.0.0.1", port)  # ...and comes back
        try:
            for _ in range(200):
                await asyncio.sleep(0.05)
                if _act(bo, lambda s: s.view()["balance"]) == 5:
                    break
        finally:
            stop.set()
            report = await live
            await server.close()
        return report

    report = asyncio.run(go())
    assert _act(bo, lambda s: s.view()["balance"]) == 5
    assert report["peers"][0]["ok"], report
    assert "trying again" in lost[0]
