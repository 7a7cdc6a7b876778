"""Running a home (or a pub) as a peer, until stopped.

``serve`` answers sessions on its URL, and keeps live connections of its own: to every
known URL of each group, and with ``--lan`` to the peers LAN discovery finds. A live
connection that fails is tried again, after 2 s, then twice as long each time up to a
minute, and at once on success.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from ssbmoney.app import sync as sync_mod
from ssbmoney.app.home import GroupInfo, Home
from ssbmoney.core.entry import feed_id
from ssbmoney.core.lan import lan_key
from ssbmoney.net.client import check_url, sync_group
from ssbmoney.net.peer import Endpoint, Outcome
from ssbmoney.net.server import SyncServer

RETRY_FIRST = 2.0
RETRY_MAX = 60.0


def lan_address() -> str:
    """This machine's first non-loopback IPv4 address, for the URL `serve --lan` prints."""
    import ifaddr  # zeroconf's dependency: lists addresses without sending anything

    for adapter in ifaddr.get_adapters():
        for ip in adapter.ips:
            if isinstance(ip.ip, str) and not ip.ip.startswith("127."):
                return ip.ip
    return "127.0.0.1"


def describe(outcome: Outcome, name: str) -> str:
    who = feed_id(outcome.peer)[:12] if outcome.peer else "a peer"
    if outcome.error:
        return f"{name}: session with {who} ended: {outcome.error}"
    return f"{name}: synced with {who}: received {outcome.received}, sent {outcome.sent}"


class Serving:
    """One running server and its outgoing live connections."""

    def __init__(self, endpoints: Callable[[], Sequence[Endpoint]], clock: Callable[[], int],
                 log: TextIO, home: Home | None = None) -> None:
        self.endpoints = endpoints
        self.clock = clock
        self.log = log
        self.home = home
        self.server = SyncServer(endpoints, clock, live=True, on_outcome=self._logged)
        self.url = ""
        self._links: dict[tuple[bytes, str], asyncio.Task[None]] = {}
        self._discovery: object | None = None

    def _logged(self, outcome: Outcome) -> None:
        names = {e.group: e.name for e in self.endpoints()}
        self.log.write(describe(outcome, names.get(outcome.group, "?")) + "\n")
        self.log.flush()

    async def start(self, host: str, port: int, shown_host: str | None = None) -> str:
        port = await self.server.start(host, port)
        self.url = f"http://{shown_host or host}:{port}"
        return self.url

    def connect(self, info: GroupInfo, url: str) -> None:
        """Keep a live connection to ``url`` for one group (once per group and URL)."""
        url = check_url(url)
        key = (info.id, url)
        if url == self.url or key in self._links:
            return
        self._links[key] = asyncio.ensure_future(self._keep(info, url))

    async def _keep(self, info: GroupInfo, url: str) -> None:
        assert self.home is not None
        delay = RETRY_FIRST
        stop = self.server.stop
        while not stop.is_set():
            outcome = await sync_group(url, sync_mod.endpoint(self.home, info), self.clock,
                                       live=True, stop=stop)
            if outcome.kind != "not_shared":
                sync_mod.remember(self.home, info, url,
                                  self.clock() if not outcome.error else None, outcome.error)
                self._logged(outcome)
            delay = RETRY_FIRST if outcome.caught_up else min(delay * 2, RETRY_MAX)
            try:
                await asyncio.wait_for(stop.wait(), delay)
            except TimeoutError:
                pass

    async def start_lan(self, port: int, **options: Any) -> None:
        """Announce on the LAN and connect to the group peers found there. ``options``
        go to ``LanDiscovery`` (tests keep it on loopback with them)."""
        from ssbmoney.net.discovery import LanDiscovery

        assert self.home is not None
        groups = {info.id: info for info in self.home.groups()}
        keys = {gid: lan_key(info.keys.sync_cap) for gid, info in groups.items()}

        def found(group: bytes, host: str, peer_port: int) -> None:
            if group in groups:
                shown = f"[{host}]" if ":" in host else host
                self.connect(groups[group], f"http://{shown}:{peer_port}")

        discovery = LanDiscovery(keys, port, found, **options)
        await discovery.start()
        self._discovery = discovery

    async def close(self) -> None:
        self.server.stop.set()
        for task in self._links.values():
            task.cancel()
        await asyncio.gather(*self._links.values(), return_exceptions=True)
        if self._discovery is not None:
            await self._discovery.stop()  # type: ignore[attr-defined]
        await self.server.close()


async def serve_home(home: Home, host: str, port: int, lan: bool, stop: asyncio.Event,
                     out: TextIO, log: TextIO) -> None:
    """``ssbmoney serve``: the URL on ``out`` first, then sessions logged on ``log``."""
    if not home.groups():
        home.group()  # says what to do first
    serving = Serving(lambda: sync_mod.endpoints(home), home.checked_clock, log, home)
    url = await serving.start(host, port, lan_address() if lan and host == "0.0.0.0" else None)
    out.write(url + "\n")
    out.flush()
    try:
        for info in home.groups():
            for known in info.urls:
                serving.connect(info, known)
        if lan:
            await serving.start_lan(serving.server.port)
        await stop.wait()
    finally:
        await serving.close()


async def serve_pub(endpoints: Callable[[], Sequence[Endpoint]], clock: Callable[[], int],
                    host: str, port: int, stop: asyncio.Event, out: TextIO,
                    log: TextIO) -> None:
    """``ssbmoney pub serve``."""
    endpoints()  # refuses a pub that hosts nothing yet
    serving = Serving(endpoints, clock, log)
    out.write(await serving.start(host, port) + "\n")
    out.flush()
    try:
        await stop.wait()
    finally:
        await serving.close()
