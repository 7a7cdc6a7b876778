"""`serve --lan` as wired: two served homes of one group find each other through real
LAN discovery (kept on loopback) and sync, with no URL given to either."""

from __future__ import annotations

import asyncio
import io
import os
from pathlib import Path

from net_helpers import clock, deposit, founder, joiner, state_hash

from ssbmoney.app import sync as sync_mod
from ssbmoney.app.serve import Serving


def test_two_lan_peers_of_a_group_find_each_other_and_sync(tmp_path: Path) -> None:
    ana, info = founder(tmp_path)
    bo = joiner(tmp_path, info, ana, "Bo", 2)
    deposit(ana, 31)
    udp_port = 40000 + os.getpid() % 20000

    async def go() -> None:
        servings = []
        for home in (ana, bo):
            serving = Serving(lambda h=home: sync_mod.endpoints(h), clock, io.StringIO(), home)
            await serving.start("127.0.0.1", 0)
            await serving.start_lan(serving.server.port, interfaces=["127.0.0.1"],
                                    udp_port=udp_port, broadcast_address="127.255.255.255",
                                    beacon_interval=0.1)
            servings.append(serving)
        try:
            for _ in range(100):
                await asyncio.sleep(0.1)
                if await asyncio.to_thread(state_hash, bo) == await asyncio.to_thread(
                        state_hash, ana):
                    break
        finally:
            for serving in servings:
                await serving.close()

    asyncio.run(go())
    assert state_hash(ana) == state_hash(bo)
    with bo.store(info) as store:
        assert store.heads()[ana.feed_keys(info).public].seq >= 2
