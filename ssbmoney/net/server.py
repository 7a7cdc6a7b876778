"""The sync server: an aiohttp application with one WebSocket route, ``/sync``.

A connection has ``HANDSHAKE_TIMEOUT`` seconds for each handshake message; a message 1
that no hosted group's key opens gets a refusal that looks random, and the socket is
closed: a stranger learns nothing, not even whether this server holds any group. At
most ``MAX_SESSIONS`` sessions run at once; more are turned away before the handshake.
Every other HTTP path answers 404 with no body.
"""

from __future__ import annotations

import asyncio
import sys
import weakref
from collections.abc import Callable, Sequence

from aiohttp import web

from ssbmoney.core.errors import SsbMoneyError
from ssbmoney.core.session import Accepted, Candidate, ReplayCaches, finish_response, respond
from ssbmoney.net.link import MAX_FRAME, WsLink
from ssbmoney.net.peer import IDLE_TIMEOUT, Driver, Endpoint, Outcome
from ssbmoney.store.group_store import Store

HANDSHAKE_TIMEOUT = 10.0
"""Seconds a connection has for each handshake message."""
SHUTDOWN_TIMEOUT = 6.0
"""Seconds a stopping server gives its sessions to say goodbye (5 s) before closing."""
MAX_SESSIONS = 256
MAX_PER_ADDRESS = 32
"""Sessions at once from one address: a capability holder's keys cost nothing, an
address costs something."""
SYNC_PATH = "/sync"


async def _quiet_headers(request: web.Request, response: web.StreamResponse) -> None:
    response.headers.popall("Server", None)


class SyncServer:
    def __init__(self, endpoints: Callable[[], Sequence[Endpoint]], clock: Callable[[], int],
                 *, live: bool = True, on_outcome: Callable[[Outcome], None] | None = None,
                 max_sessions: int = MAX_SESSIONS, handshake_timeout: float = HANDSHAKE_TIMEOUT,
                 idle_timeout: float = IDLE_TIMEOUT) -> None:
        self.endpoints = endpoints
        self.clock = clock
        self.live = live
        self.on_outcome = on_outcome
        self.max_sessions = max_sessions
        self.handshake_timeout = handshake_timeout
        self.idle_timeout = idle_timeout
        self.stop = asyncio.Event()
        self.cache = ReplayCaches()
        self.sessions = 0
        self._runner: web.AppRunner | None = None
        self._listener: asyncio.Server | None = None
        self._started: weakref.WeakSet[asyncio.BaseTransport] = weakref.WeakSet()
        self._handshaking: dict[int, WsLink] = {}  # sessions not yet past message 1
        self._by_address: dict[str, int] = {}
        self.port = 0

    def app(self) -> web.Application:
        app = web.Application(handler_args={"max_field_size": 4096, "max_line_size": 4096,
                                            "keepalive_timeout": 5})
        app.router.add_get(SYNC_PATH, self.handle)
        app.on_response_prepare.append(_quiet_headers)
        return app

    async def start(self, host: str, port: int) -> int:
        self._runner = web.AppRunner(self.app(), access_log=None, handle_signals=False,
                                     shutdown_timeout=SHUTDOWN_TIMEOUT)
        await self._runner.setup()
        loop = asyncio.get_running_loop()
        factory = self._runner.server
        assert factory is not None

        def guarded() -> asyncio.BaseProtocol:
            """Every connection gets ``handshake_timeout`` to send its HTTP request:
            one that never does (a stranger holding sockets open) is closed."""
            protocol = factory()
            loop.call_later(self.handshake_timeout, self._drop_if_silent, protocol)
            return protocol

        self._listener = await loop.create_server(guarded, host, port)
        self.port = self._listener.sockets[0].getsockname()[1]
        return self.port

    def _drop_if_silent(self, protocol: asyncio.BaseProtocol) -> None:
        transport = getattr(protocol, "transport", None)
        if transport is not None and not transport.is_closing() and (
                transport not in self._started):
            transport.close()

    async def close(self) -> None:
        self.stop.set()
        if self._listener is not None:
            self._listener.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if request.transport is not None:
            self._started.add(request.transport)
        remote = request.remote or ""
        if self._by_address.get(remote, 0) >= MAX_PER_ADDRESS:
            return web.Response(status=503)
        if self.sessions >= self.max_sessions:
            if not self._handshaking:
                return web.Response(status=503)
            # Full: the oldest connection not yet past message 1 makes room, so
            # strangers holding sockets open cannot lock members out.
            oldest = next(iter(self._handshaking))
            await self._handshaking.pop(oldest).close()
        ws = web.WebSocketResponse(max_msg_size=MAX_FRAME, compress=False, autoping=True)
        await ws.prepare(request)
        link = WsLink(ws)
        self.sessions += 1
        self._by_address[remote] = self._by_address.get(remote, 0) + 1
        self._handshaking[id(link)] = link
        try:
            await self._session(link)
        except SsbMoneyError as err:
            sys.stderr.write(f"ssbmoney: a session from {request.remote} ended: {err.message}\n")
        finally:
            self.sessions -= 1
            self._by_address[remote] -= 1
            if not self._by_address[remote]:
                del self._by_address[remote]
            self._handshaking.pop(id(link), None)
            await link.close()
        return ws

    async def _session(self, link: WsLink) -> None:
        first = await link.recv(self.handshake_timeout)
        endpoints = {e.group: e for e in self.endpoints()}
        candidates = [Candidate(e.group, e.psk, e.key.secret) for e in endpoints.values()]
        answer = respond(first, candidates, self.clock(), self.cache)
        if not isinstance(answer, Accepted):
            await link.send(answer)
            return
        self._handshaking.pop(id(link), None)  # it proved the capability: not evictable
        await link.send(answer.second)
        transport = finish_response(answer, await link.recv(self.handshake_timeout))
        endpoint = endpoints[answer.candidate.group]
        store = await asyncio.to_thread(Store, endpoint.directory, endpoint.group)
        try:
            outcome = await Driver(link, transport, endpoint, store, live=self.live,
                                   stop=self.stop, idle_timeout=self.idle_timeout).run()
        finally:
            await asyncio.to_thread(store.close)
        if self.on_outcome is not None:
            self.on_outcome(outcome)
