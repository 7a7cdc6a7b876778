"""Running a home (or a pub) as a peer, until stopped.

``serve`` answers sessions on its URL, and keeps live connections of its own: to every
known URL of each group, and with ``--lan`` to the peers LAN discovery finds. A live
connection that fails is tried again, after 2 s, then twice as long each time up to a
minute, and at once on success.
"""

from __future__ import annotations

import asyncio
import errno
import socket
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TextIO

from ssbmoney.app import sync as sync_mod
from ssbmoney.app.home import GroupInfo, Home
from ssbmoney.core.entry import feed_id
from ssbmoney.core.errors import BadInput, OperationFailed
from ssbmoney.core.lan import lan_key
from ssbmoney.net.client import check_url
from ssbmoney.net.peer import Endpoint, Outcome, Progress
from ssbmoney.net.server import SHUTDOWN_TIMEOUT, SyncServer

if TYPE_CHECKING:
    from ssbmoney.net.discovery import LanDiscovery

MAX_FOUND = 32
"""Live links LAN discovery may open (a replayed announcement can name any address)."""
FOLLOW_EVERY = 2.0
"""Seconds between looks at the groups' URLs while serving."""


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
        self._found: set[tuple[bytes, str]] = set()  # links LAN discovery made
        self._stops: dict[tuple[bytes, str], asyncio.Event] = {}
        self._discovery: LanDiscovery | None = None

    def _logged(self, outcome: Outcome) -> None:
        names = {e.group: e.name for e in self.endpoints()}
        self.log.write(describe(outcome, names.get(outcome.group, "?")) + "\n")
        self.log.flush()

    async def start(self, host: str, port: int, shown_host: str | None = None) -> str:
        try:
            port = await self.server.start(host, port)
        except socket.gaierror as err:
            raise BadInput(f"cannot listen on {host!r}: {err.strerror}") from None
        except OSError as err:
            hint = ("; the port is in use: pick another with --port (0: any free one)"
                    if err.errno == errno.EADDRINUSE else "")
            raise OperationFailed(f"cannot listen on {host}:{port}: {err.strerror}{hint}"
                                  ) from None
        self.url = f"http://{shown_host or host}:{port}"
        return self.url

    def connect(self, info: GroupInfo, url: str) -> None:
        """Keep a live connection to ``url`` for one group (once per group and URL)."""
        url = check_url(url)
        key = (info.id, url)
        if url == self.url or key in self._links:
            return
        self._stops[key] = link_stop = asyncio.Event()
        task = asyncio.ensure_future(self._keep(info, url, link_stop))
        self._links[key] = task

        def ended(done: asyncio.Task[None]) -> None:  # e.g. a LAN peer of another group
            if self._links.get(key) is done:
                del self._links[key]
                if self._stops.get(key) is link_stop:
                    del self._stops[key]
            self._found.discard(key)

        task.add_done_callback(ended)

    def disconnect(self, group: bytes, url: str) -> None:
        """End one live link with a goodbye (its task ends by itself)."""
        stop = self._stops.pop((group, url), None)
        if stop is not None:
            stop.set()

    async def _keep(self, info: GroupInfo, url: str, stop: asyncio.Event) -> None:
        assert self.home is not None
        home = self.home

        def progress(p: Progress) -> None:
            if p.caught_up and p.live:
                self._say(f"{info.name}: live with {url} (received {p.received},"
                          f" sent {p.sent})")
                sync_mod.remember(home, info, url, self.clock(), "")

        outcome = await sync_mod.keep_live(home, info, url, stop, progress, self._say)
        if outcome.kind == "not_shared":
            self._say(f"{info.name}: {url} does not hold this group")

    def _say(self, line: str) -> None:
        self.log.write(line + "\n")
        self.log.flush()

    async def follow(self, every: float = FOLLOW_EVERY) -> None:
        """Keep the live links in step with the groups' URLs as they change on disk
        (``group urls add/remove`` while serving)."""
        assert self.home is not None
        while not self.server.stop.is_set():
            wanted: dict[tuple[bytes, str], GroupInfo] = {}
            for info in self.home.groups():
                for known in info.urls:
                    try:
                        wanted[(info.id, check_url(known))] = info
                    except BadInput:
                        continue  # an invite may carry anything: not a URL, not a link
            for (_, url), info in wanted.items():
                self.connect(info, url)
            for key in [k for k in self._links if k not in wanted and k not in self._found]:
                self.disconnect(*key)
            try:
                await asyncio.wait_for(self.server.stop.wait(), every)
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
            shown = f"[{host}]" if ":" in host else host
            key = (group, f"http://{shown}:{peer_port}")
            if group not in groups or key in self._found:
                return
            if len(self._found) >= MAX_FOUND:
                return  # a LAN that names this many peers is someone replaying tokens
            self._found.add(key)
            self.connect(groups[group], key[1])

        discovery = LanDiscovery(keys, port, found, **options)
        await discovery.start()
        self._discovery = discovery

    async def close(self) -> None:
        self.server.stop.set()
        for stop in self._stops.values():
            stop.set()  # each link says goodbye...
        links = list(self._links.values())
        if links:
            _, late = await asyncio.wait(links, timeout=SHUTDOWN_TIMEOUT)
            for task in late:  # ...or is cut, if its peer does not answer in time
                task.cancel()
            await asyncio.gather(*links, return_exceptions=True)
        if self._discovery is not None:
            await self._discovery.stop()
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
    follower = asyncio.ensure_future(serving.follow())
    try:
        if lan:
            await serving.start_lan(serving.server.port)
        await stop.wait()
    finally:
        follower.cancel()
        await asyncio.gather(follower, return_exceptions=True)
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
