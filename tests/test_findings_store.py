"""Regressions for the store and format findings: contentless copies (2), linear frame
reading (9), old-format homes, bounded integers in JSON, reading the log from an offset."""

from __future__ import annotations

import json
import random
import struct
import zlib
from pathlib import Path

import pytest
from store_fixtures import GROUP, log_bytes, make_feed, member, old_format_log, snapshot

from ssbmoney.app import audit as audit_mod
from ssbmoney.core import entry as entry_mod
from ssbmoney.core import framing
from ssbmoney.core.errors import BadInput, MissingContent, StoreError
from ssbmoney.store.group_store import FORKS_NAME, LOG_NAME, Store

ALICE = member(1)


def test_finding_02_contentless_copy_is_refused(tmp_path: Path) -> None:
    feed = make_feed(ALICE, 3)
    with Store(tmp_path / "g", GROUP) as store:
        store.ingest(feed[:2])
        before = snapshot(store), log_bytes(tmp_path / "g")
        for item in (feed[1], feed[2]):  # a held entry, and a new one
            pruned = entry_mod.resign_raw(item.envelope, item.signature, None)
            with pytest.raises(MissingContent, match="without its content"):
                entry_mod.decode(pruned)
            # Decode refuses it, so nothing contentless reaches the store; an Entry
            # built with content None by other means is refused by the store too.
            forged = item._replace(content=None, raw=pruned)
            report = store.ingest([forged])
            assert report.accepted == () and report.duplicates == 0
            assert [e.kind for e in report.errors] == ["missing_content"]
        assert (snapshot(store), log_bytes(tmp_path / "g")) == before
        # The full copy is taken in afterwards, as if the stripped one never came.
        assert store.ingest([feed[2]]).accepted == (feed[2],)


def _crc_header(length: int, crc: int) -> bytes:
    first = struct.pack(">II", length, crc)
    return first + zlib.crc32(first).to_bytes(4, "big")


def _read(data: bytes) -> tuple[list[tuple[int, bytes]], framing.Work]:
    work = framing.Work()
    frames, _damage = framing.read_all(data, 0, work)
    return frames, work


def test_finding_09_reading_a_crafted_file_is_linear() -> None:
    size = 2 * 1024 * 1024
    # Every 12 bytes a header that passes its own CRC and claims the largest frame,
    # whose payload fails: each is skipped whole.
    fake = _crc_header(framing.MAX_FRAME, 0xDEADBEEF)
    crafted = (fake * (size // len(fake) + 1))[:size]
    real = [framing.frame(b"real entry %d" % n) for n in range(3)]
    rng = random.Random(9)
    garbage = rng.randbytes(size)
    cases = {
        "headers_everywhere": crafted,
        "garbage": garbage,
        "garbage_then_frames": garbage + b"".join(real),
        "headers_then_frames": crafted + b"\0" * framing.MAX_FRAME + b"".join(real),
        "frames_garbage_frames": b"".join(real) + garbage + b"".join(real),
    }
    for name, data in cases.items():
        frames, work = _read(data)
        assert work.payload_bytes <= 2 * len(data), name
        assert work.header_checks <= len(data), name
        if name.endswith("frames"):
            assert [p for _o, p in frames][-3:] == [b"real entry %d" % n for n in range(3)]
    # Every offset holding a passing header claiming the maximum length is the worst
    # case for a quadratic reader; ours still CRCs each byte at most once.
    frames, work = _read(crafted)
    assert frames == [] and work.payload_bytes <= len(crafted)


def test_finding_09_store_and_audit_read_damage_in_linear_time(tmp_path: Path) -> None:
    home = tmp_path / "home"
    gdir = home / "groups" / GROUP.hex()
    with Store(gdir, GROUP) as store:
        store.ingest(make_feed(ALICE, 3))
    fake = _crc_header(framing.MAX_FRAME, 1)
    data = log_bytes(gdir) + (fake * 20000) + framing.frame(make_feed(ALICE, 4)[3].raw)
    (gdir / LOG_NAME).write_bytes(data)
    with pytest.raises(StoreError, match="damaged"):
        Store(gdir, GROUP)
    assert log_bytes(gdir) == data
    report = audit_mod.audit(home, {})
    assert report["entries"] == 4 and not report["valid"]
    assert [e["kind"] for e in report["errors"]] == ["damaged_file"]


def test_old_format_home_is_refused_clearly(tmp_path: Path) -> None:
    feed = make_feed(ALICE, 3)
    home = tmp_path / "home"
    gdir = home / "groups" / GROUP.hex()
    gdir.mkdir(parents=True)
    old = old_format_log([e.raw for e in feed])
    (gdir / LOG_NAME).write_bytes(old)
    with pytest.raises(StoreError, match=r"older ssbmoney \(format 1\)") as info:
        Store(gdir, GROUP)
    assert "cannot be read by this version" in info.value.message
    assert (gdir / LOG_NAME).read_bytes() == old
    with pytest.raises(BadInput, match=r"older ssbmoney \(format 1\)"):
        audit_mod.collect(home)
    # An old export folder: .feed files without magic.
    export = tmp_path / "export" / GROUP.hex()
    export.mkdir(parents=True)
    (export / (ALICE.public.hex() + ".feed")).write_bytes(old)
    with pytest.raises(BadInput, match=r"older ssbmoney \(format 1\)"):
        audit_mod.collect(tmp_path / "export")
    assert (export / (ALICE.public.hex() + ".feed")).read_bytes() == old
    # An old forks.log beside a new log is refused too.
    g2 = tmp_path / "g2"
    with Store(g2, GROUP) as store:
        store.ingest(feed)
    (g2 / FORKS_NAME).write_bytes(old_format_log([b"\x92\xc0\xc0"]))
    with pytest.raises(StoreError, match="format 1"):
        Store(g2, GROUP)


def test_a_new_log_starts_with_its_magic_and_a_torn_start_is_finished(tmp_path: Path) -> None:
    gdir = tmp_path / "g"
    with Store(gdir, GROUP):
        pass
    assert log_bytes(gdir) == framing.LOG_MAGIC
    (gdir / LOG_NAME).write_bytes(framing.LOG_MAGIC[:3])  # a crash while creating it
    with Store(gdir, GROUP) as store:
        assert store.ingest(make_feed(ALICE, 1)).errors == ()
    assert log_bytes(gdir).startswith(framing.LOG_MAGIC)


def test_json_never_holds_an_integer_beyond_2_53(tmp_path: Path) -> None:
    big = 2**60
    far = entry_mod.create(ALICE.secret, ALICE.public, GROUP, big, bytes(32), 1, b"far")
    export = tmp_path / "export" / GROUP.hex()
    export.mkdir(parents=True)
    (export / (ALICE.public.hex() + ".feed")).write_bytes(
        framing.LOG_MAGIC + framing.frame(far.raw))
    report = audit_mod.audit(tmp_path / "export", {})
    (row,) = report["errors"]
    assert row["kind"] == "sequence_gap" and row["seq"] is None
    assert all(abs(n) <= 2**53 - 1 for n in _ints(json.loads(json.dumps(report))))
    assert audit_mod.json_int(2**53 - 1) == 2**53 - 1
    assert audit_mod.json_int(-(2**53)) is None and audit_mod.json_int(None) is None


def _ints(value: object) -> list[int]:
    if isinstance(value, bool):
        return []
    if isinstance(value, int):
        return [value]
    if isinstance(value, dict):
        return [n for v in value.values() for n in _ints(v)]
    if isinstance(value, list):
        return [n for v in value for n in _ints(v)]
    return []


def test_read_from_an_offset(tmp_path: Path) -> None:
    feed = make_feed(ALICE, 5)
    with Store(tmp_path / "g", GROUP) as store:
        assert store.read_from(0) == ([], framing.MAGIC_SIZE)
        store.ingest(feed[:2])
        first, offset = store.read_from(0)
        assert first == feed[:2]
        assert store.read_from(offset) == ([], offset)
        store.ingest(feed[2:])
        rest, end = store.read_from(offset)
        assert rest == feed[2:] and end == len(log_bytes(tmp_path / "g"))
        with pytest.raises(StoreError):
            store.read_from(end + 1)
        with pytest.raises(StoreError):
            store.read_from(offset + 1)
