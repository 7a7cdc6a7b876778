"""Replication of one group between two peers, as a sans-IO state machine.

Like h11 for HTTP: ``Replication`` never touches a socket or a file. The adapter
feeds it the peer's messages (``receive``) and gets back ``Event`` values: messages
to send, batches to store, a plan of what to send. It asks it for the messages it
sends on its own (``batch``, ``done``, ``stored``), and the machine refuses anything
out of turn with a ``ProtocolError``, so both the adapter's and the peer's mistakes
end the session instead of corrupting it.

The protocol, per side (both sides run the same machine, at the same time)::

    send Hello(key, binding, digest, live)
    on Hello:     equal digests -> caught up at once (Bye, or live); else send Frontier
    on Frontier:  plan what the peer lacks -> stream Batches (at most WINDOW unacked);
                  send Need: the feeds where the peer holds a branch we lack
    on Need:      send those feeds whole too; then (and only then) Done
    on Batch:     store it (durably), then send Ack
    caught up:    our Done sent and acked, theirs received and acked -> Bye (or live)

Peers already in sync settle in one exchange of 32-byte digests, whatever the number
of feeds. The digest covers every feed's sequence and head id, and every tip of a
forked feed, so two homes holding different branches of a feed notice it.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from enum import Enum
from hashlib import blake2b

from ssbmoney.core.errors import ProtocolError
from ssbmoney.core.wire import (
    MAX_FEEDS,
    MAX_SESSION_FEEDS,
    MAX_TIPS,
    WINDOW,
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
)

Tips = tuple[tuple[int, bytes], ...]
"""A feed's branch tips, ``(seq, id)`` sorted: one unless the feed forked."""
FrontierMap = Mapping[bytes, Tips]

FRONTIER_BYTES = 1024 * 1024
"""A frontier message stays under this (half of ``MAX_MESSAGE``), whatever its tips."""
MAX_SESSION_TIPS = MAX_SESSION_FEEDS * 3 // 2
"""Tips a peer's frontier may name in all: what a session holds of it stays under
64 MiB (measured: tests/test_attacks_sync2.py)."""

_U64 = struct.Struct(">Q")
_U16 = struct.Struct(">H")


def digest(frontier: FrontierMap) -> bytes:
    """32 bytes that differ whenever two frontiers do (feed, every tip's sequence and id)."""
    h = blake2b(digest_size=32, person=b"ssbm-frontier")
    h.update(_U64.pack(len(frontier)))
    for feed in sorted(frontier):
        tips = frontier[feed]
        h.update(feed + _U16.pack(len(tips)))
        for seq, head in tips:
            h.update(_U64.pack(seq) + head)
    return h.digest()


def as_messages(frontier: FrontierMap) -> list[Frontier]:
    """The frontier as messages of at most ``MAX_FEEDS`` feeds, each feed with at most
    ``MAX_TIPS`` tips (the highest): a feed announced with fewer tips than it has
    disagrees with every peer's, so it is sent whole, which is what a feed with that
    many branches needs anyway."""
    chunks: list[list[tuple[bytes, Tips]]] = [[]]
    size = 0
    for feed in sorted(frontier):
        tips = tuple(sorted(frontier[feed])[-MAX_TIPS:])
        cost = 40 + 48 * len(tips)  # msgpack of the feed and its tips, generously
        if chunks[-1] and (len(chunks[-1]) >= MAX_FEEDS or size + cost > FRONTIER_BYTES):
            chunks.append([])
            size = 0
        chunks[-1].append((feed, tips))
        size += cost
    return [Frontier(tuple(chunk), i < len(chunks) - 1) for i, chunk in enumerate(chunks)]


def take(into: dict[bytes, Tips], message: Frontier) -> None:
    """Add one frontier message's feeds to what the peer announced so far."""
    if len(into) + len(message.feeds) > MAX_SESSION_FEEDS:
        raise ProtocolError(f"peer's frontier names more than {MAX_SESSION_FEEDS} feeds")
    named = sum(len(t) for t in into.values()) + sum(len(t) for _, t in message.feeds)
    if named > MAX_SESSION_TIPS:
        raise ProtocolError(f"peer's frontier names more than {MAX_SESSION_TIPS} tips")
    for feed, tips in message.feeds:
        if feed in into:
            raise ProtocolError("peer's frontier names a feed twice")
        into[feed] = tuple(sorted(set(tips)))


@dataclass(frozen=True)
class Want:
    """Send the peer this feed's entries from ``from_seq`` on (every branch); with
    ``proofs``, its fork proofs too."""

    feed: bytes
    from_seq: int
    proofs: bool


IdsAt = Callable[[bytes, int], Collection[bytes]]


def plan(mine: FrontierMap, theirs: FrontierMap, ids_at: IdsAt) -> tuple[Want, ...]:
    """What the peer lacks of what we hold, feed by feed, in feed order.

    A feed the peer holds a prefix of gets the suffix. A feed where the tips disagree
    otherwise (the peer holds a branch we do not, or either side holds a fork) is sent
    whole, with its proofs: forks are rare, and the store keeps each entry once, so a
    re-sent entry costs bandwidth, never correctness. Both sides do the same, so after
    one session both hold every branch.
    """
    wants: list[Want] = []
    for feed in sorted(mine):
        have = mine[feed]
        other = theirs.get(feed, ())
        if have == other:
            continue
        if not other:
            wants.append(Want(feed, 1, len(have) > 1))
            continue
        if len(have) == 1 and len(other) == 1:
            (my_seq, _), (their_seq, their_head) = have[0], other[0]
            if their_seq > my_seq:
                continue  # they are ahead: if they diverged from us, their Need says so
            if their_head in ids_at(feed, their_seq):
                if their_seq < my_seq:
                    wants.append(Want(feed, their_seq + 1, False))
                continue
        wants.append(Want(feed, 1, True))
    return tuple(wants)


def needs(mine: FrontierMap, theirs: FrontierMap, ids_at: IdsAt) -> tuple[bytes, ...]:
    """The feeds where the peer holds a branch we lack: one of its tips, at a sequence
    we hold, is not ours. (A tip past our end is the peer's to check against ours.)
    ``plan`` alone cannot see these: the side that is behind on a diverged feed does
    not know it diverged."""
    out = []
    for feed in sorted(theirs):
        have = mine.get(feed, ())
        if not have or have == theirs[feed]:
            continue
        top = max(seq for seq, _ in have)
        if any(seq <= top and head not in ids_at(feed, seq) for seq, head in theirs[feed]):
            out.append(feed)
            if len(out) == MAX_FEEDS:
                break  # what a Need may carry; the next session asks for the rest
    return tuple(out)


class Phase(Enum):
    HELLO = "hello"  # our Hello sent, waiting for theirs
    FRONTIER = "frontier"  # our Frontier sent, waiting for theirs
    STREAMING = "streaming"  # catching up, both ways
    LIVE = "live"  # caught up, staying connected: batches are pushed as written
    CLOSING = "closing"  # our Bye sent
    CLOSED = "closed"


@dataclass(frozen=True)
class Send:
    message: Message


@dataclass(frozen=True)
class PlanSending:
    """The peer's frontier arrived: plan with ``plan(ours, theirs, ...)``, then send
    the batches (``Replication.batch``) and ``Replication.done``."""

    theirs: dict[bytes, Tips]


@dataclass(frozen=True)
class SendWhole:
    """The peer's Need arrived: send these feeds whole (those we hold), then ``done``."""

    feeds: tuple[bytes, ...]


@dataclass(frozen=True)
class Store:
    """A batch to validate and store durably; answer with ``Replication.stored``."""

    batch: Batch


@dataclass(frozen=True)
class Acked:
    ack: Ack


@dataclass(frozen=True)
class CaughtUp:
    """Both sides hold what the other had when they met."""


@dataclass(frozen=True)
class Closed:
    """The peer said goodbye (``clean``), or ended the session with ``error``."""

    clean: bool
    error: str = ""


Event = Send | PlanSending | SendWhole | Store | Acked | CaughtUp | Closed


class Replication:
    """One side of one group's replication, after the handshake."""

    def __init__(self, hello: Hello, frontier: FrontierMap) -> None:
        self.hello = hello
        self.frontier = frontier
        self.phase = Phase.HELLO
        self.peer: Hello | None = None
        self._next_batch = 0  # number of our next batch
        self._in_flight: list[int] = []  # our batches sent, not yet acked
        self._done_sent = False
        self._peer_done = False
        self._need_sent = False
        self._need_received = False
        self._theirs: dict[bytes, Tips] = {}  # the peer's frontier, as it arrives
        self._expect_batch = 0  # number of the peer's next batch
        self._unacked: list[int] = []  # the peer's batches received, not yet acked
        self.sent = 0  # entries sent
        self.received = 0  # entries received (stored or not)
        self.stored_count = 0  # entries the peer newly stored of ours
        self.peer_total = 0  # entries the peer means to send in its catch-up
        self.refusals: list[str] = []  # what the peer refused to store (a pub's bounds)

    def start(self) -> list[Event]:
        return [Send(self.hello)]

    @property
    def live(self) -> bool:
        return self.phase is Phase.LIVE

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    def can_send(self) -> bool:
        return self.phase in (Phase.STREAMING, Phase.LIVE) and len(self._in_flight) < WINDOW

    # ------------------------------------------------------------ what we send

    def batch(self, entries: tuple[bytes, ...], proofs: tuple[tuple[bytes, bytes], ...] = (),
              total: int = 0) -> Batch:
        """Our next batch; only while streaming (before ``done``) or live, and only with
        room in the window."""
        if self.phase not in (Phase.STREAMING, Phase.LIVE) or (
                self._done_sent and self.phase is Phase.STREAMING):
            raise ProtocolError(f"cannot send a batch now ({self.phase.value})")
        if len(self._in_flight) >= WINDOW:
            raise ProtocolError("cannot send a batch: the window is full")
        number = self._next_batch
        self._next_batch += 1
        self._in_flight.append(number)
        self.sent += len(entries)
        return Batch(number, total, entries, proofs)

    def need(self, feeds: tuple[bytes, ...]) -> list[Event]:
        """Tell the peer which feeds to send whole (see ``needs``); once, while streaming."""
        if self.phase is not Phase.STREAMING or self._need_sent:
            raise ProtocolError(f"cannot say what we need now ({self.phase.value})")
        self._need_sent = True
        return [Send(Need(feeds))]

    def done(self) -> list[Event]:
        """We have sent everything the peer lacked, its Need included."""
        if (self.phase is not Phase.STREAMING or self._done_sent or not self._need_sent
                or not self._need_received):
            raise ProtocolError(f"cannot say done now ({self.phase.value})")
        self._done_sent = True
        return [Send(Done()), *self._maybe_caught_up()]

    def stored(self, number: int, stored: int, refused: str = "") -> list[Event]:
        """The peer's batch ``number`` is durably stored (``stored`` entries new)."""
        if not self._unacked or self._unacked[0] != number:
            raise ProtocolError(f"batch {number} is not the next one to acknowledge")
        self._unacked.pop(0)
        return [Send(Ack(number, stored, refused)), *self._maybe_caught_up()]

    def close(self) -> list[Event]:
        """Say goodbye (e.g. when a live connection is stopped)."""
        if self.phase in (Phase.CLOSING, Phase.CLOSED):
            return []
        self.phase = Phase.CLOSING
        return [Send(Bye())]

    # ------------------------------------------------------------ what we receive

    def receive(self, message: Message) -> list[Event]:
        if self.phase is Phase.CLOSED:
            raise ProtocolError("message after the session ended")
        if self.phase is Phase.CLOSING and isinstance(message, Batch | Ack | Done | Ping | Need):
            return []  # crossed our goodbye: what it carried comes again next time
        match message:
            case Hello():
                return self._on_hello(message)
            case Frontier():
                if self.phase is not Phase.FRONTIER:
                    raise ProtocolError("frontier out of turn")
                take(self._theirs, message)
                if message.more:
                    return []
                self.phase = Phase.STREAMING
                theirs, self._theirs = self._theirs, {}
                return [PlanSending(theirs)]
            case Batch():
                return self._on_batch(message)
            case Ack():
                if not self._in_flight or self._in_flight[0] != message.number:
                    raise ProtocolError(f"acknowledgement of batch {message.number},"
                                        " which is not the oldest in flight")
                self._in_flight.pop(0)
                self.stored_count += message.stored
                if message.refused:
                    self.refusals.append(message.refused)
                return [Acked(message), *self._maybe_caught_up()]
            case Need(feeds):
                if self.phase is not Phase.STREAMING or self._need_received:
                    raise ProtocolError("need out of turn")
                self._need_received = True
                return [SendWhole(tuple(dict.fromkeys(feeds)))]
            case Done():
                if (self.phase is not Phase.STREAMING or self._peer_done
                        or not self._need_sent):
                    raise ProtocolError("done out of turn")
                self._peer_done = True
                return self._maybe_caught_up()
            case Ping():
                if self.phase is not Phase.LIVE:
                    raise ProtocolError("ping out of turn (only a live connection pings)")
                return []
            case Bye():
                was_closing = self.phase is Phase.CLOSING
                clean = self.phase in (Phase.LIVE, Phase.CLOSING)
                self.phase = Phase.CLOSED
                out: list[Event] = [] if was_closing else [Send(Bye())]
                return [*out, Closed(clean, "" if clean else "peer left before catching up")]
            case Error(text):
                self.phase = Phase.CLOSED
                return [Closed(False, text)]
        raise ProtocolError("unknown message")  # pragma: no cover - Message is closed

    def _on_hello(self, hello: Hello) -> list[Event]:
        if self.phase is not Phase.HELLO:
            raise ProtocolError("hello out of turn")
        self.peer = hello
        if hello.digest == self.hello.digest:
            return self._caught_up()
        self.phase = Phase.FRONTIER
        return [Send(m) for m in as_messages(self.frontier)]

    def _on_batch(self, batch: Batch) -> list[Event]:
        if self.phase not in (Phase.STREAMING, Phase.LIVE) or (
                self._peer_done and self.phase is Phase.STREAMING):
            raise ProtocolError("batch out of turn")
        if not batch.entries and not batch.proofs:
            raise ProtocolError("an empty batch (it would only keep the session open)")
        if batch.number != self._expect_batch:
            raise ProtocolError(f"batch {batch.number} out of order"
                                f" (expected {self._expect_batch})")
        if len(self._unacked) >= WINDOW:
            raise ProtocolError(f"peer sent more than {WINDOW} batches without waiting")
        self._expect_batch += 1
        self._unacked.append(batch.number)
        self.received += len(batch.entries)
        if batch.total:
            self.peer_total = batch.total
        return [Store(batch)]

    def _maybe_caught_up(self) -> list[Event]:
        if (self.phase is Phase.STREAMING and self._done_sent and self._peer_done
                and not self._in_flight and not self._unacked):
            return self._caught_up()
        return []

    def _caught_up(self) -> list[Event]:
        assert self.peer is not None
        if self.hello.live and self.peer.live:
            self.phase = Phase.LIVE
            return [CaughtUp()]
        self.phase = Phase.CLOSING
        return [CaughtUp(), Send(Bye())]
