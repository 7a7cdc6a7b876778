"""Sync figures: an initial sync between two processes, and what an in-sync session costs.

Both run a pub in a separate process, ``python -m ssbmoney --home DIR pub serve --host
127.0.0.1 --port 0`` (its URL is the first line it prints), on a pub home made
beforehand, untimed: ``Pub.host`` of a pub code, and the group's store filled with
entries of ``cfg.content_size`` bytes of content (opaque to a pub). The receiving side
is ``net.client.sync_group`` (not live) in this process, into a store directory of
its own. Nothing listens anywhere but 127.0.0.1; the server is stopped (SIGTERM, then
SIGKILL) however the figure ends.

``sync_initial``
    N entries (``cfg.entries``) in 100 feeds of N/100 entries on the pub; each round is
    one whole session into a fresh, empty directory: timed from the client's connect
    (``sync_group`` is called on a running event loop) to its return, by when the
    entries are validated (chain mode), ``fdatasync``-ed, indexed (the store is
    closed, which writes its index) and the WebSocket is closed. Between rounds,
    untimed, the receiving store is checked -- every entry in the log *and* in the
    index -- and removed. The reference, in alternating rounds (see ``ssbmoney.bench``
    for the method), is PyNaCl's ``VerifyKey.verify`` of signed ``content_size``-byte
    messages, as in ``verify_full``. Value: entries per second of a session.

``sync_insync_bytes_10`` / ``sync_insync_bytes_1000``
    The pub and the client hold the same 10 (1,000) feeds, one entry each. The client
    connects through a byte-counting TCP relay on 127.0.0.1 to the pub; the figure is
    every TCP payload byte relayed both ways from connect to the close of both
    directions: the HTTP upgrade, the three handshake messages, hello, bye and the
    WebSocket close frames. ``client_to_server`` and ``server_to_client`` split it.
    The largest of three sessions (they are expected to be equal).
"""

from __future__ import annotations

import asyncio
import os
import select
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nacl.signing import SigningKey

import ssbmoney
from ssbmoney.bench import Config, Figure, benchmark, interleave
from ssbmoney.bench.feeds import REF_SEED, _contents
from ssbmoney.core.entry import Entry, create
from ssbmoney.core.group import GroupKeys, encode_pub_code, group_keys
from ssbmoney.core.keys import KeyPair, keypair
from ssbmoney.store import index
from ssbmoney.store.entry_log import LOG_NAME
from ssbmoney.store.group_store import Store
from ssbmoney.store.index import INDEX_NAME

if TYPE_CHECKING:
    from ssbmoney.net.peer import Endpoint

FEEDS = 100
"""Feeds ``sync_initial`` spreads its entries over."""
ROUNDS = 8
"""Whole sessions timed for ``sync_initial``."""
INSYNC_RUNS = 3
GROUP_SECRET = b"ssbmoney-bench-sync-group-secret"
FOUNDER_SEED = b"ssbmoney-bench-sync-founder-seed"
CLIENT_SEED = b"ssbmoney-bench-sync-client-seed!"
CLAIMED_MS = 1_700_000_000_000
LOCALHOST = "127.0.0.1"
START_TIMEOUT = 60.0
"""Seconds the pub server has to print its URL."""
STOP_TIMEOUT = 10.0
RELAY_TIMEOUT = 10.0
"""Seconds the relay may take, after the client returned, to see both directions close."""


def _clock() -> int:
    return time.time_ns() // 1_000_000


def _keys() -> GroupKeys:
    return group_keys(GROUP_SECRET, keypair(FOUNDER_SEED).public)


def _feed_key(number: int) -> KeyPair:
    return keypair(f"ssbmoney-bench-sync-feed-{number:06d}".encode().ljust(32, b"."))


def _feed_entries(group: bytes, feeds: int, per_feed: int, contents: list[bytes]
                  ) -> Iterator[list[Entry]]:
    """Each feed's entries, signed in memory (``per_feed`` each, contents reused)."""
    for number in range(feeds):
        kp = _feed_key(number)
        head: bytes | None = None
        made: list[Entry] = []
        for seq in range(1, per_feed + 1):
            entry = create(kp.secret, kp.public, group, seq, head, CLAIMED_MS,
                           contents[(seq - 1) % len(contents)])
            head = entry.id
            made.append(entry)
        yield made


def _ingest_all(store: Store, runs: Iterator[list[Entry]], chunk: int) -> int:
    """Ingest feed runs in chunks of about ``chunk`` entries (one fsync each)."""
    pending: list[Entry] = []
    total = 0

    def flush() -> None:
        nonlocal total
        report = store.ingest(pending)
        if report.errors or len(report.accepted) != len(pending):
            raise AssertionError(f"generated entries were refused: {report.errors[:1]!r}")
        total += len(pending)
        pending.clear()

    for run in runs:
        pending.extend(run)
        if len(pending) >= chunk:
            flush()
    if pending:
        flush()
    store.flush_index()
    return total


@dataclass(frozen=True)
class PubHome:
    root: Path
    keys: GroupKeys
    entries: int
    feeds: int


def _pub_home(cfg: Config, name: str, feeds: int, per_feed: int,
              client_copy: Path | None = None) -> PubHome:
    """A pub home hosting one group of ``feeds`` feeds of ``per_feed`` entries (cached);
    with ``client_copy``, a store directory holding the same entries too."""
    key = f"sync_pub:{name}:{feeds}x{per_feed}x{cfg.content_size}"
    if key not in cfg.cache:
        from ssbmoney.app.pub import Pub

        root = cfg.workdir / f"sync-{name}"
        keys = _keys()
        pub = Pub(root)
        pub.host(encode_pub_code(keys))
        cfg.log(f"  generating a pub home of {feeds:,} feeds x {per_feed:,} entries (untimed)")
        contents = _contents(cfg, max(1, min(cfg.batch, per_feed)))
        with Store(pub.paths.pub_group_dir(keys.group_id), keys.group_id) as store:
            total = _ingest_all(store, _feed_entries(keys.group_id, feeds, per_feed, contents),
                                10 * cfg.batch)
            if client_copy is not None:
                with Store(client_copy, keys.group_id) as copy:
                    _ingest_all(copy, iter([list(store.all_entries())]), 10 * cfg.batch)
        cfg.cache[key] = PubHome(root, keys, total, feeds)
    home: PubHome = cfg.cache[key]
    return home


# --------------------------------------------------------------- the pub process


@contextmanager
def _pub_server(cfg: Config, home: PubHome) -> Iterator[str]:
    """``pub serve`` on ``home`` in a subprocess, on 127.0.0.1; yields its URL."""
    env = dict(os.environ)
    source = str(Path(ssbmoney.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (source, env.get("PYTHONPATH")) if p)
    log_path = home.root.parent / f"{home.root.name}-server.log"
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "ssbmoney", "--home", str(home.root), "pub", "serve",
             "--host", LOCALHOST, "--port", "0"],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log, env=env,
        )
    try:
        url = _first_line(proc, log_path)
        if not url.startswith(f"http://{LOCALHOST}:"):
            raise RuntimeError(f"pub serve printed {url!r}, not a URL on {LOCALHOST}")
        yield url
    finally:
        _stop(proc)


def _first_line(proc: subprocess.Popen[bytes], log_path: Path) -> str:
    assert proc.stdout is not None
    deadline = time.monotonic() + START_TIMEOUT
    line = b""
    while not line.endswith(b"\n"):
        left = deadline - time.monotonic()
        ready, _, _ = select.select([proc.stdout], [], [], max(0.0, left))
        chunk = os.read(proc.stdout.fileno(), 4096) if ready else b""
        if not chunk:
            tail = log_path.read_text(errors="replace")[-2000:]
            why = "exited" if proc.poll() is not None else "printed no URL in time"
            raise RuntimeError(f"pub serve {why}: {tail.strip()}")
        line += chunk
    return line.split(b"\n", 1)[0].decode().strip()


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if proc.stdout is not None:
        proc.stdout.close()


def _endpoint(keys: GroupKeys, directory: Path) -> Endpoint:
    from ssbmoney.core.session import session_psk
    from ssbmoney.net.peer import Endpoint

    return Endpoint(keys.group_id, session_psk(keys.sync_cap), keypair(CLIENT_SEED), directory,
                    "bench")


# ------------------------------------------------------------------ sync_initial


def _check_received(directory: Path, expected: int) -> None:
    """Every entry is in the log and in the index (read straight from SQLite, so an
    index the session left behind is not caught up here)."""
    db = sqlite3.connect(directory / INDEX_NAME)
    try:
        indexed = index.count(db)
        indexed_end = index.indexed_end(db, (directory / LOG_NAME).stat().st_size)
    finally:
        db.close()
    if indexed != expected:
        raise AssertionError(f"the receiving index holds {indexed} entries, not {expected}")
    if indexed_end != (directory / LOG_NAME).stat().st_size:
        raise AssertionError("the receiving index trails its log after the session")


@benchmark("sync_initial")
def sync_initial(cfg: Config) -> Figure:
    from ssbmoney.net.client import sync_group

    feeds = max(1, min(FEEDS, cfg.entries))
    home = _pub_home(cfg, "initial", feeds, max(1, cfg.entries // feeds))

    signing = SigningKey(REF_SEED)
    verify = signing.verify_key.verify
    signed = [signing.sign(payload) for payload in _contents(cfg, 2 * cfg.batch)]

    def raw_verify(n: int) -> int:
        for i in range(n):
            verify(signed[i % len(signed)])
        return n

    receiving = cfg.workdir / "sync-initial-received"

    with _pub_server(cfg, home) as url, asyncio.Runner() as runner:

        def session(index: int) -> int:
            outcome = runner.run(sync_group(url, _endpoint(home.keys, receiving), _clock))
            if outcome.error or outcome.received != home.entries:
                raise AssertionError(f"round {index}: received {outcome.received} of"
                                     f" {home.entries} entries ({outcome.error or 'no error'})")
            return outcome.received

        def between(index: int) -> None:
            _check_received(receiving, home.entries)
            shutil.rmtree(receiving)

        measured = interleave(ROUNDS, raw_verify, session, between,
                              reference_items=home.entries, calibrate=1)
    return measured.figure("entries/s", "raw_verify", feeds=feeds)


# --------------------------------------------------------------- sync_insync_bytes


class _Relay:
    """A TCP relay on 127.0.0.1 that counts the bytes it passes, each way, per
    connection."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.done: asyncio.Queue[tuple[int, int]] = asyncio.Queue()
        self.server: asyncio.Server | None = None

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._relay, LOCALHOST, 0)
        port: int = self.server.sockets[0].getsockname()[1]
        return port

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

    async def _relay(self, client_r: asyncio.StreamReader,
                     client_w: asyncio.StreamWriter) -> None:
        counts = [0, 0]  # client to server, server to client
        try:
            server_r, server_w = await asyncio.open_connection(LOCALHOST, self.port)
        except OSError:
            client_w.close()
            raise
        try:
            await asyncio.gather(self._pump(client_r, server_w, counts, 0),
                                 self._pump(server_r, client_w, counts, 1))
        finally:
            for writer in (client_w, server_w):
                writer.close()
            self.done.put_nowait((counts[0], counts[1]))

    @staticmethod
    async def _pump(source: asyncio.StreamReader, sink: asyncio.StreamWriter,
                    counts: list[int], way: int) -> None:
        try:
            while data := await source.read(65536):
                counts[way] += len(data)
                sink.write(data)
                await sink.drain()
            if sink.can_write_eof():
                sink.write_eof()
        except (ConnectionError, OSError):
            pass


async def _insync_session(url: str, endpoint: Endpoint) -> tuple[int, int]:
    from ssbmoney.net.client import sync_group

    relay = _Relay(int(url.rsplit(":", 1)[1]))
    port = await relay.start()
    try:
        outcome = await sync_group(f"http://{LOCALHOST}:{port}", endpoint, _clock)
        if outcome.error or outcome.received or outcome.sent or not outcome.caught_up:
            raise AssertionError(f"the in-sync session was not one: {outcome!r}")
        return await asyncio.wait_for(relay.done.get(), RELAY_TIMEOUT)
    finally:
        await relay.close()


def _insync_bytes(cfg: Config, feeds: int) -> Figure:
    client_dir = cfg.workdir / f"sync-insync-{feeds}-client"
    home = _pub_home(cfg, f"insync-{feeds}", feeds, 1, client_copy=client_dir)
    endpoint = _endpoint(home.keys, client_dir)
    runs: list[tuple[int, int]] = []
    with _pub_server(cfg, home) as url, asyncio.Runner() as runner:
        for _ in range(INSYNC_RUNS):
            runs.append(runner.run(_insync_session(url, endpoint)))
    up, down = max(runs, key=sum)
    extra: dict[str, Any] = {"client_to_server": up, "server_to_client": down}
    if len({sum(r) for r in runs}) > 1:
        extra["runs"] = [sum(r) for r in runs]
    return Figure(up + down, "bytes", extra=extra)


@benchmark("sync_insync_bytes_10")
def sync_insync_bytes_10(cfg: Config) -> Figure:
    return _insync_bytes(cfg, 10)


@benchmark("sync_insync_bytes_1000")
def sync_insync_bytes_1000(cfg: Config) -> Figure:
    return _insync_bytes(cfg, 1000)
