"""Helpers for the sync tests: member homes made in-process, a server on 127.0.0.1, and
an in-memory pump that joins two replication machines without sockets (as h11's tests
join two connections)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

from aiohttp import web

from ssbmoney.app import sync as sync_mod
from ssbmoney.app.home import GroupInfo, Home
from ssbmoney.core import content as msg
from ssbmoney.core.keys import KeyPair
from ssbmoney.core.replicate import (
    Acked,
    CaughtUp,
    Closed,
    PlanSending,
    Replication,
    Send,
    SendWhole,
    Store,
    Want,
    digest,
    needs,
    plan,
)
from ssbmoney.core.session import (
    Accepted,
    Candidate,
    Initiator,
    ReplayCache,
    Transport,
    bind,
    finish_response,
    respond,
    session_psk,
)
from ssbmoney.core.wire import Hello, Reassembler, encode
from ssbmoney.net import replica
from ssbmoney.net.peer import Endpoint
from ssbmoney.net.server import SyncServer
from ssbmoney.store.group_store import Store as GroupStore

NOW = 1_764_000_000_000


def clock() -> int:
    return NOW


def founder(root: Path, name: str = "Ana", seed: int = 1) -> tuple[Home, GroupInfo]:
    home = Home(root / name, clock)
    home.init(name, bytes([seed]) * 32)
    info = home.create_group("Flat", "EUR", secret=bytes([99]) * 32)
    return home, info


def joiner(root: Path, info: GroupInfo, inviter: Home, name: str, seed: int) -> Home:
    home = Home(root / name, clock)
    home.init(name, bytes([seed]) * 32)
    home.join_group(inviter.invite(info))
    return home


def deposit(home: Home, amount: int, n: int = 1) -> None:
    info = home.groups()[0]
    home.post(info, [msg.Deposit(amount, f"d{i}") for i in range(n)])


def state_hash(home: Home) -> str:
    return str(home.ledger(home.groups()[0]).view()["state_hash"])


@contextlib.asynccontextmanager
async def serving(endpoints: Callable[[], Sequence[Endpoint]],
                  **kwargs: Any) -> AsyncIterator[tuple[SyncServer, str]]:
    server = SyncServer(endpoints, clock, **kwargs)
    port = await server.start("127.0.0.1", 0)
    try:
        yield server, f"http://127.0.0.1:{port}"
    finally:
        await server.close()


@contextlib.asynccontextmanager
async def sync_route(handle: Callable[[web.Request], Awaitable[web.StreamResponse]],
                     shutdown_timeout: float = 60.0) -> AsyncIterator[str]:
    """A hand-written ``/sync`` handler served on 127.0.0.1 (a relay, a hostile peer);
    yields its URL."""
    app = web.Application()
    app.router.add_get("/sync", handle)
    runner = web.AppRunner(app, shutdown_timeout=shutdown_timeout)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def sync(home: Home, url: str, **kwargs: Any) -> dict[str, Any]:
    return await sync_mod.sync_peers(home, [url], **kwargs)


def run(coro: Any) -> Any:
    return asyncio.run(coro)


# ------------------------------------------------------------------ in memory


def handshake(psk_a: bytes, key_a: KeyPair, psk_b: bytes, key_b: KeyPair,
              group: bytes) -> tuple[Transport, Transport]:
    """Two transports, joined by a handshake in memory (a initiates)."""
    initiator = Initiator(psk_a, key_a.secret, NOW)
    answer = respond(initiator.first, [Candidate(group, psk_b, key_b.secret)], NOW,
                     ReplayCache())
    assert isinstance(answer, Accepted), answer
    third, ta = initiator.finish(answer.second)
    return ta, finish_response(answer, third)


class Side:
    """One peer's machine over a real store, driven synchronously."""

    def __init__(self, store: GroupStore, key: KeyPair, transport: Transport,
                 live: bool = False) -> None:
        self.store = store
        self.transport = transport
        self.mine = replica.frontier(store)
        hello = Hello(key.public, bind(key.secret, transport.handshake_hash),
                      digest(self.mine), live)
        self.machine = Replication(hello, self.mine)
        self.outbox: list[bytes] = []
        self.reassembler = Reassembler()
        self.pending: list[replica.Outgoing] = []
        self.planned = False
        self.asked = False
        self.whole: set[bytes] = set()
        self.caught_up = False
        self.closed = False
        self.messages_out = 0
        self.stored = 0

    def send(self, message: Any) -> None:
        self.messages_out += 1
        self.outbox.extend(self.transport.seal(encode(message)))

    def handle(self, events: list[Any]) -> None:
        for event in events:
            if isinstance(event, Send):
                self.send(event.message)
            elif isinstance(event, PlanSending):
                wants = plan(self.mine, event.theirs, self.store.ids_at)
                self.handle(self.machine.need(needs(self.mine, event.theirs,
                                                    self.store.ids_at)))
                self.whole = {w.feed for w in wants if w.from_seq == 1}
                self.pending = list(replica.outgoing(self.store, wants))
                self.planned = True
            elif isinstance(event, SendWhole):
                extra = tuple(Want(f, 1, True) for f in event.feeds
                              if f in self.mine and f not in self.whole)
                self.pending.extend(replica.outgoing(self.store, extra))
                self.asked = True
            elif isinstance(event, Store):
                result = replica.store_batch(self.store, event.batch)
                assert result.error is None, result.error
                self.stored += result.stored
                self.handle(self.machine.stored(event.batch.number, result.stored))
            elif isinstance(event, CaughtUp):
                self.caught_up = True
            elif isinstance(event, Closed):
                self.closed = True
            else:
                assert isinstance(event, Acked)

    def flush(self) -> None:
        """Send what the window allows; then done, once everything is out."""
        while self.pending and self.machine.can_send():
            entries, proofs = self.pending.pop(0)
            self.send(self.machine.batch(entries, proofs))
        if self.planned and self.asked and not self.pending:
            self.planned = False
            self.handle(self.machine.done())

    def take(self, data: list[bytes]) -> None:
        for sealed in data:
            for message in self.reassembler.feed(self.transport.open(sealed)):
                self.handle(self.machine.receive(message))


def pump(a: Side, b: Side, limit: int = 10_000) -> int:
    """Run both machines until both are caught up and quiet; returns rounds."""
    a.handle(a.machine.start())
    b.handle(b.machine.start())
    for rounds in range(limit):
        a.flush()
        b.flush()
        if not a.outbox and not b.outbox:
            return rounds
        out_a, out_b = a.outbox, b.outbox
        a.outbox, b.outbox = [], []
        b.take(out_a)
        a.take(out_b)
    raise AssertionError("the machines did not settle")


def in_memory(home_a: Home, home_b: Home, live: bool = False) -> tuple[Side, Side]:
    info_a, info_b = home_a.groups()[0], home_b.groups()[0]
    ea, eb = sync_mod.endpoint(home_a, info_a), sync_mod.endpoint(home_b, info_b)
    ta, tb = handshake(ea.psk, ea.key, eb.psk, eb.key, info_a.id)
    sa = GroupStore(ea.directory, info_a.id)
    sb = GroupStore(eb.directory, info_b.id)
    return Side(sa, ea.key, ta, live), Side(sb, eb.key, tb, live)


def psk_of(info: GroupInfo) -> bytes:
    return session_psk(info.keys.sync_cap)
