"""The bounds on what one peer can take: handshake time, idle time, sessions at once.
(Bytes are bounded by the frame and message limits: test_wire, test_sync_hostile.)"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiohttp
from net_helpers import NOW, founder, joiner, serving

from ssbmoney.app import sync as sync_mod
from ssbmoney.core.keys import keypair
from ssbmoney.core.session import Initiator, bind
from ssbmoney.core.wire import Hello, encode
from ssbmoney.net.peer import Outcome

KEY = keypair(bytes([41]) * 32)


def test_a_connection_that_never_handshakes_is_closed(tmp_path: Path) -> None:
    ana, _ = founder(tmp_path)

    async def go() -> float:
        async with serving(lambda: sync_mod.endpoints(ana), handshake_timeout=0.3) as (_, url):
            async with aiohttp.ClientSession() as http:
                async with http.ws_connect(url + "/sync") as ws:
                    start = time.monotonic()
                    message = await ws.receive(timeout=5)
                    assert message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
                    return time.monotonic() - start

    assert asyncio.run(go()) < 3


def test_a_peer_that_goes_quiet_after_the_handshake_is_cut_off(tmp_path: Path) -> None:
    ana, info = founder(tmp_path)
    outcomes: list[Outcome] = []

    async def go() -> None:
        async with serving(lambda: sync_mod.endpoints(ana), idle_timeout=0.5,
                           on_outcome=outcomes.append) as (_, url):
            async with aiohttp.ClientSession() as http:
                async with http.ws_connect(url + "/sync") as ws:
                    me = Initiator(sync_mod.endpoint(ana, info).psk, KEY.secret, NOW)
                    await ws.send_bytes(me.first)
                    third, transport = me.finish((await ws.receive()).data)
                    await ws.send_bytes(third)
                    hello = Hello(KEY.public, bind(KEY.secret, transport.handshake_hash),
                                  bytes(32), False)
                    for sealed in transport.seal(encode(hello)):
                        await ws.send_bytes(sealed)
                    while (await ws.receive(timeout=5)).type is aiohttp.WSMsgType.BINARY:
                        pass  # its hello and frontier; then we say nothing more

    asyncio.run(go())
    assert outcomes and "silent" in outcomes[0].error


def test_sessions_past_the_limit_are_turned_away_before_the_handshake(tmp_path: Path) -> None:
    ana, info = founder(tmp_path)
    bo = joiner(tmp_path, info, ana, "Bo", 2)

    async def go() -> tuple[int, bool]:
        async with serving(lambda: sync_mod.endpoints(ana), max_sessions=1,
                           handshake_timeout=5) as (_, url):
            async with aiohttp.ClientSession() as http:
                # A connection that never authenticates makes room when the server is full.
                async with http.ws_connect(url + "/sync") as idle:
                    await asyncio.sleep(0.1)
                    stop = asyncio.Event()
                    live = asyncio.ensure_future(
                        sync_mod.sync_peers(bo, [url], live=True, stop=stop))
                    message = await idle.receive(timeout=5)
                    evicted = message.type in (aiohttp.WSMsgType.CLOSE,
                                               aiohttp.WSMsgType.CLOSED)
                    await asyncio.sleep(0.5)
                    # Full of authenticated sessions: more are turned away.
                    async with http.get(url + "/sync") as more:
                        status = more.status
                    stop.set()
                    await live
                    return status, evicted

    assert asyncio.run(go()) == (503, True)
