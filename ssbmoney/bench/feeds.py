"""Feed figures: durable appends, and verifying a feed with every signature or the chain.

All three compare with raw PyNaCl rates on a ~300-byte payload, measured in the same
run in alternating rounds (see ``ssbmoney.bench`` for the method):

``append_durable``
    ``Store.append`` of one batch of 1,000 entries of 300 bytes of content per round
    (each batch is signed, framed, written and ``fdatasync``-ed: that is what append
    does) into a store in a fresh scratch directory, against ``SigningKey.sign`` of
    300-byte payloads. The index rows the store keeps pending are flushed
    to SQLite between rounds, untimed (the index trails the log by design).

``verify_full`` / ``verify_chain``
    One feed of N entries (made beforehand, untimed, with ``Store.append``; the log
    written by ``append_durable`` is reused when it holds exactly that feed) is read
    from disk into memory. Each round takes the next 1,000 entries from those raw log
    bytes and times: unframing, ``entry.decode`` of each, and ``validate_run`` of the
    chunk on top of the feed state the previous chunk left (``Mode.FULL``: every
    signature; ``Mode.CHAIN``: hash links, one signature per chunk, as an ingest of a
    1,000-entry batch does). The reference is ``VerifyKey.verify`` of signed 300-byte
    messages. One process, one thread: one core.
"""

from __future__ import annotations

import random
from pathlib import Path

from nacl.signing import SigningKey

from ssbmoney.bench import Config, Figure, benchmark, interleave
from ssbmoney.core import framing
from ssbmoney.core.entry import decode
from ssbmoney.core.keys import keypair
from ssbmoney.core.validate import FeedState, Mode, validate_run
from ssbmoney.store.group_store import LOG_NAME, Store

GROUP = bytes(range(32))
AUTHOR_SEED = b"ssbmoney-bench-feed-author-seed!"
REF_SEED = b"ssbmoney-bench-raw-reference-key"
CLAIMED_MS = 1_700_000_000_000
UNIT = "entries/s"


def _batch_size(cfg: Config) -> int:
    return max(1, min(cfg.batch, cfg.entries))


def _contents(cfg: Config, count: int) -> list[bytes]:
    """``count`` distinct payloads of ``cfg.content_size`` bytes, the same every run."""
    rng = random.Random(0x55B)
    return [rng.randbytes(cfg.content_size) for _ in range(count)]


def _fill(store: Store, cfg: Config, rounds: int) -> None:
    kp = keypair(AUTHOR_SEED)
    contents = _contents(cfg, _batch_size(cfg))
    for _ in range(rounds):
        store.append(kp.secret, kp.public, contents, CLAIMED_MS)
    store.flush_index()


def _one_feed(cfg: Config) -> bytes:
    """The log bytes of one group holding one feed of ``rounds * batch`` entries."""
    rounds, batch = cfg.rounds, _batch_size(cfg)
    key = f"one_feed:{rounds}x{batch}x{cfg.content_size}"
    if key not in cfg.cache:
        directory = cfg.workdir / "one_feed"
        cfg.log(f"  generating one feed of {rounds * batch:,} entries (untimed)")
        with Store(directory, GROUP) as store:
            _fill(store, cfg, rounds)
        cfg.cache[key] = directory / LOG_NAME
    path: Path = cfg.cache[key]
    return path.read_bytes()


# ------------------------------------------------------------------ append_durable


@benchmark("append_durable")
def append_durable(cfg: Config) -> Figure:
    rounds, batch = cfg.rounds, _batch_size(cfg)
    kp = keypair(AUTHOR_SEED)
    contents = _contents(cfg, batch)
    payloads = _contents(cfg, 2 * batch)
    sign = SigningKey(REF_SEED).sign

    def raw_sign(n: int) -> int:
        for payload in payloads[:n]:
            sign(payload)
        return n

    directory = cfg.workdir / "append_durable"
    with Store(directory, GROUP) as store:

        def append(index: int) -> int:
            return len(store.append(kp.secret, kp.public, contents, CLAIMED_MS))

        def between(index: int) -> None:
            store.flush_index()

        measured = interleave(rounds, raw_sign, append, between, len(payloads))
        state = store.heads()[kp.public]
    if state.seq != rounds * batch:
        raise AssertionError(f"appended {state.seq} entries, expected {rounds * batch}")
    # The log now holds exactly the feed the verify figures need: lend it to them.
    cfg.cache[f"one_feed:{rounds}x{batch}x{cfg.content_size}"] = directory / LOG_NAME
    return measured.figure(UNIT, "raw_sign")


# -------------------------------------------------------------------- verify_*


def _chunks(data: bytes, batch: int) -> list[tuple[int, int]]:
    """Byte ranges of consecutive runs of ``batch`` frames in ``data`` (a log)."""
    bounds: list[tuple[int, int]] = []
    start = pos = framing.MAGIC_SIZE  # past the log's magic
    count = 0
    for offset, payload in framing.scan(data, framing.MAGIC_SIZE):
        pos = offset + framing.HEADER_SIZE + len(payload)
        count += 1
        if count == batch:
            bounds.append((start, pos))
            start, count = pos, 0
    if count:
        bounds.append((start, pos))
    return bounds


def _verify(cfg: Config, mode: Mode) -> Figure:
    batch = _batch_size(cfg)
    data = _one_feed(cfg)
    chunks = _chunks(data, batch)
    view = memoryview(data)
    author = keypair(AUTHOR_SEED).public

    signing = SigningKey(REF_SEED)
    verify = signing.verify_key.verify
    signed = [signing.sign(payload) for payload in _contents(cfg, 2 * batch)]

    def raw_verify(n: int) -> int:
        for message in signed[:n]:
            verify(message)
        return n

    state = FeedState(author, GROUP)
    scan = framing.scan

    def validate(index: int) -> int:
        nonlocal state
        lo, hi = chunks[index]
        entries = [decode(payload) for _offset, payload in scan(view[lo:hi])]
        result = validate_run(state, entries, mode)
        if result.error is not None or len(result.accepted) != len(entries):
            raise AssertionError(f"chunk {index} did not validate: {result.error!r}")
        state = result.state
        return len(entries)

    measured = interleave(len(chunks), raw_verify, validate, reference_items=len(signed))
    if state.seq != cfg.rounds * batch:
        raise AssertionError(f"verified {state.seq} entries, expected {cfg.rounds * batch}")
    return measured.figure(UNIT, "raw_verify")


@benchmark("verify_full")
def verify_full(cfg: Config) -> Figure:
    return _verify(cfg, Mode.FULL)


@benchmark("verify_chain")
def verify_chain(cfg: Config) -> Figure:
    return _verify(cfg, Mode.CHAIN)
