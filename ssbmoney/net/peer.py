"""Drives one group's replication over an authenticated session: the adapter around
``core.replicate.Replication``, shared by the server and the client.

It reads the peer's messages and hands them to the machine; it sends our batches
while the window allows; it stores each batch it receives in a worker thread (the
store's fsync and index work never block the event loop) and acknowledges only once
the batch is durable. In live mode it then watches the store's log and pushes what is
written there, by this process or another one on the same home, skipping what the
peer itself sent.

Limits, one peer at a time: a session holds at most one message being reassembled
(``wire.MAX_MESSAGE``, 2 MiB) and the batches in the window (``wire.WINDOW`` × 1 MiB,
in the socket's buffers); a peer silent for ``IDLE_TIMEOUT`` seconds is cut off (live
peers send a ``Ping`` every ``PING_EVERY``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

from ssbmoney.core.entry import Entry, feed_id
from ssbmoney.core.errors import (
    HandshakeFailed,
    OperationFailed,
    PeerUnreachable,
    SsbMoneyError,
)
from ssbmoney.core.keys import KeyPair
from ssbmoney.core.replicate import (
    Acked,
    CaughtUp,
    Closed,
    Event,
    Phase,
    PlanSending,
    Replication,
    Send,
    SendWhole,
    Store,
    Tips,
    Want,
    digest,
    needs,
    plan,
)
from ssbmoney.core.session import Transport, bind, binding_ok
from ssbmoney.core.wire import BATCH_ENTRIES, Error, Hello, Message, Ping, Reassembler, encode
from ssbmoney.net import replica
from ssbmoney.net.replica import Bounds
from ssbmoney.store.group_store import Store as GroupStore

_T = TypeVar("_T")

IDLE_TIMEOUT = 60.0
"""Seconds a peer may stay silent before the session is cut."""
BYE_TIMEOUT = 5.0
"""Seconds to wait for the peer's goodbye after ours."""
PING_EVERY = 20.0
LIVE_POLL = 0.2
"""Seconds between looks at the log for entries to push on a live connection."""


class Link(Protocol):
    """The WebSocket as the driver sees it: whole binary messages."""

    async def send(self, data: bytes) -> None: ...
    async def recv(self, timeout: float) -> bytes: ...


@dataclass(frozen=True)
class Endpoint:
    """What this side brings to a session of one group."""

    group: bytes
    psk: bytes
    key: KeyPair  # ed25519: a member's feed key in the group, or a pub's own key
    directory: Path
    name: str = ""
    bounds: Bounds = Bounds()
    founder: bytes = b""  # the founder's feed: sent first, so a sync cut short still
    #                       shows who the members are


@dataclass(frozen=True)
class Progress:
    group: bytes
    received: int
    of: int  # entries the peer announced it would send (0: unknown)
    sent: int
    bytes_in: int
    caught_up: bool = False  # this report is the moment both sides caught up
    live: bool = False  # and the connection stays open


@dataclass
class Outcome:
    """One group's session with one peer."""

    group: bytes
    peer: bytes | None = None  # the peer's ed25519 key, once authenticated
    received: int = 0  # entries newly stored here
    sent: int = 0  # entries the peer newly stored
    caught_up: bool = False
    error: str = ""  # why the session ended early ("" when it completed)
    kind: str = ""  # the error's kind
    refused: list[str] = field(default_factory=list)  # what the peer's bounds refused
    invalid: str = ""  # the first invalid entry the peer sent us (we cut it off)


class _CutOff(Exception):
    """The peer sent an invalid entry: the valid prefix is stored, the session ends."""


class Driver:
    """One session, after the handshake."""

    def __init__(self, link: Link, transport: Transport, endpoint: Endpoint, store: GroupStore,
                 *, live: bool, stop: asyncio.Event | None = None,
                 progress: Callable[[Progress], None] | None = None,
                 idle_timeout: float = IDLE_TIMEOUT) -> None:
        self.link = link
        self.idle_timeout = idle_timeout
        self.transport = transport
        self.endpoint = endpoint
        self.store = store
        self.live = live
        self.stop = stop or asyncio.Event()
        self.progress = progress
        self.outcome = Outcome(endpoint.group)
        self._send_lock = asyncio.Lock()
        self._room = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._threads: set[asyncio.Future[Any]] = set()
        self._from_peer: set[bytes] = set()
        self._bytes_in = 0
        self._mine: dict[bytes, Tips] = {}
        self.machine: Replication | None = None
        self._failed: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._whole: asyncio.Future[tuple[bytes, ...]] = (
            asyncio.get_running_loop().create_future())

    async def run(self) -> Outcome:
        try:
            await self._run()
        except _CutOff:
            pass
        except SsbMoneyError as err:
            leaving = self.stop.is_set() and self.machine is not None and (
                self.machine.phase in (Phase.CLOSING, Phase.CLOSED))
            if not (leaving and isinstance(err, PeerUnreachable)):
                # (we were leaving: a goodbye that did not come back is no one's fault)
                self.outcome.error = self.outcome.error or err.message
                self.outcome.kind = self.outcome.kind or err.kind
            if not isinstance(err, OperationFailed) or err.kind == "protocol_error":
                await self._try_send(Error(err.message))
        finally:
            for task in self._tasks:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            while self._threads:  # never leave a worker thread using the store
                await asyncio.gather(*self._threads, return_exceptions=True)
        if not self.outcome.caught_up and not self.outcome.error:
            self.outcome.error = "stopped before catching up (what arrived is kept)"
            self.outcome.kind = "interrupted"
        return self.outcome

    async def _run(self) -> None:
        offset = await self._thread(self.store.end)
        self._mine = await self._thread(replica.frontier, self.store)
        key = self.endpoint.key
        hello = Hello(key.public, bind(key.secret, self.transport.handshake_hash),
                      digest(self._mine), self.live)
        self.machine = machine = Replication(hello, self._mine)
        await self._handle(machine.start())
        reassembler = Reassembler()
        loop = asyncio.get_running_loop()
        bye_by = 0.0  # once we said goodbye: when we stop waiting for theirs
        stopper = asyncio.ensure_future(self.stop.wait())
        try:
            while machine.phase is not Phase.CLOSED:
                if self.stop.is_set() and machine.phase is not Phase.CLOSING:
                    await self._handle(machine.close())
                if machine.phase is Phase.CLOSING and not bye_by:
                    # Stopped before catching up, a goodbye matters little: wait less.
                    quick = self.stop.is_set() and not self.outcome.caught_up
                    bye_by = loop.time() + (1.0 if quick else BYE_TIMEOUT)
                wait = max(0.0, bye_by - loop.time()) if bye_by else self.idle_timeout
                receiving = asyncio.ensure_future(self.link.recv(wait))
                waits: set[asyncio.Future[Any]] = {receiving, self._failed}
                if not self.stop.is_set():
                    waits.add(stopper)
                try:
                    await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    if not receiving.done() or self._failed.done():
                        receiving.cancel()
                        await asyncio.gather(receiving, return_exceptions=True)
                if self._failed.done():
                    raise self._failed.result()
                if receiving.cancelled():
                    continue
                data = receiving.result()
                self._bytes_in += len(data)
                for message in reassembler.feed(self.transport.open(data)):
                    if isinstance(message, Hello):
                        self._check_hello(message)
                        if self.live and message.live:
                            self._start(self._push(offset))
                            self._start(self._ping())
                    await self._handle(machine.receive(message))
        finally:
            stopper.cancel()

    async def _thread(self, fn: Callable[..., _T], *args: Any) -> _T:
        """``fn(*args)`` in a worker thread. A thread cannot be stopped: if the session
        is cancelled meanwhile, ``run`` still waits for it to end, so the store is
        never closed under a thread that is using it."""
        future = asyncio.get_running_loop().run_in_executor(None, fn, *args)
        self._threads.add(future)
        future.add_done_callback(self._threads.discard)
        return await asyncio.shield(future)

    def _check_hello(self, hello: Hello) -> None:
        if not binding_ok(hello.key, hello.binding, self.transport.handshake_hash,
                          self.transport.remote_static):
            raise HandshakeFailed("the peer's key is not bound to this session")
        self.outcome.peer = hello.key

    def _start(self, work: Coroutine[Any, Any, None]) -> None:
        """Run ``work`` beside the reader; its failure ends the session."""
        task = asyncio.ensure_future(work)
        self._tasks.append(task)

        def failed(done: asyncio.Task[None]) -> None:
            if not done.cancelled() and done.exception() is not None and not self._failed.done():
                self._failed.set_result(done.exception())

        task.add_done_callback(failed)

    async def _send(self, message: Message) -> None:
        async with self._send_lock:
            for sealed in self.transport.seal(encode(message)):
                await self.link.send(sealed)

    async def _try_send(self, message: Message) -> None:
        try:
            await asyncio.wait_for(self._send(message), 5)
        except Exception:  # the link may be gone: nothing more to say on it
            pass

    async def _handle(self, events: list[Event]) -> None:
        machine = self.machine
        assert machine is not None
        for event in events:
            match event:
                case Send(message):
                    await self._send(message)
                case PlanSending(theirs):
                    self._start(self._stream(theirs))
                case SendWhole(feeds):
                    if not self._whole.done():
                        self._whole.set_result(feeds)
                case Store(batch):
                    result = await self._thread(
                        replica.store_batch, self.store, batch, self.endpoint.bounds)
                    self.outcome.received += result.stored
                    if self.live:  # only a live link pushes, and must not echo
                        self._from_peer.update(e.id for e in result.accepted)
                    self._report()
                    if result.error is not None:
                        who = feed_id(self.outcome.peer) if self.outcome.peer else "the peer"
                        self.outcome.invalid = replica.describe(result.error)
                        self.outcome.error = (
                            f"{who} sent an invalid entry ({self.outcome.invalid});"
                            " kept what came before it, and cut the session")
                        self.outcome.kind = "invalid_entry"
                        await self._try_send(Error(f"refused: {self.outcome.invalid}"))
                        raise _CutOff()
                    await self._handle(machine.stored(batch.number, result.stored,
                                                      result.refused))
                case Acked(ack):
                    self.outcome.sent += ack.stored
                    if ack.refused:
                        self.outcome.refused.append(ack.refused)
                    self._room.set()
                    self._report()
                case CaughtUp():
                    self.outcome.caught_up = True
                    self._report(caught_up=True)
                case Closed(clean, error):
                    if not clean and not self.outcome.error:
                        self.outcome.error = f"the peer ended the session: {error}"
                        self.outcome.kind = "refused"

    def _report(self, caught_up: bool = False) -> None:
        if self.progress is not None and self.machine is not None:
            self.progress(Progress(self.endpoint.group, self.machine.received,
                                   self.machine.peer_total, self.outcome.sent, self._bytes_in,
                                   caught_up, self.machine.phase is Phase.LIVE))

    async def _send_batches(self, batches: Iterator[replica.Outgoing], total: int) -> None:
        machine = self.machine
        assert machine is not None
        while True:
            item = await self._thread(next, batches, None)
            if item is None:
                return
            while not machine.can_send():
                if machine.phase not in (Phase.STREAMING, Phase.LIVE):
                    return
                self._room.clear()
                await self._room.wait()
            entries, proofs = item
            await self._send(machine.batch(entries, proofs, total))

    async def _stream(self, theirs: dict[bytes, Tips]) -> None:
        """Catch the peer up: what our plan says it lacks, then what its Need asks for
        (feeds where it holds a branch we lack, which it alone can see), then Done."""
        machine = self.machine
        assert machine is not None
        wants = await self._thread(plan, self._mine, theirs, self.store.ids_at)
        founder = self.endpoint.founder
        wants = tuple(sorted(wants, key=lambda w: w.feed != founder))  # stable: founder first
        asks = await self._thread(needs, self._mine, theirs, self.store.ids_at)
        await self._handle(machine.need(asks))
        total = replica.count(self.store, wants, self._mine)
        await self._send_batches(replica.outgoing(self.store, wants), total)
        asked = await self._whole
        whole = {w.feed for w in wants if w.from_seq == 1 and w.proofs}
        extra = tuple(Want(feed, 1, True) for feed in dict.fromkeys(asked)
                      if feed in self._mine and feed not in whole)
        if extra:
            total += replica.count(self.store, extra, self._mine)
            await self._send_batches(replica.outgoing(self.store, extra), total)
        if machine.phase is Phase.STREAMING:  # (not when the session is ending)
            await self._handle(machine.done())

    async def _push(self, offset: int) -> None:
        """Live: push what the log gains, skipping what came from this peer."""
        machine = self.machine
        assert machine is not None
        while machine.phase not in (Phase.CLOSING, Phase.CLOSED):
            await asyncio.sleep(LIVE_POLL)
            if machine.phase is not Phase.LIVE:
                continue
            entries, offset = await self._thread(self.store.read_from, offset)
            fresh = [e for e in entries if e.id not in self._from_peer]
            if fresh:
                await self._send_batches(_chunks(fresh), 0)

    async def _ping(self) -> None:
        machine = self.machine
        assert machine is not None
        while machine.phase not in (Phase.CLOSING, Phase.CLOSED):
            await asyncio.sleep(PING_EVERY)
            if machine.phase is Phase.LIVE:
                await self._send(Ping())


def _chunks(entries: list[Entry]) -> Iterator[replica.Outgoing]:
    for i in range(0, len(entries), BATCH_ENTRIES):
        yield tuple(e.raw for e in entries[i:i + BATCH_ENTRIES]), ()
