"""Damage inside a log (not a torn tail) is refused loudly and never cut away."""

from __future__ import annotations

from pathlib import Path

import pytest
from store_fixtures import GROUP, drop_index, frame_bounds, log_bytes, make_feed, member

from ssbmoney.app.audit import audit
from ssbmoney.core.errors import StoreError
from ssbmoney.store.group_store import LOG_NAME, Store


@pytest.mark.parametrize("index", ["kept", "dropped"])
def test_a_damaged_frame_in_the_middle_is_refused_and_kept(tmp_path: Path, index: str) -> None:
    gdir = tmp_path / "g"
    with Store(gdir, GROUP) as store:
        store.ingest(make_feed(member(1), 12))
    data = log_bytes(gdir)
    start, end = frame_bounds(data)[5]
    damaged = bytearray(data)
    damaged[(start + end) // 2] ^= 0xFF
    (gdir / LOG_NAME).write_bytes(bytes(damaged))
    if index == "dropped":
        drop_index(gdir)

    with pytest.raises(StoreError, match="damaged at offset"):
        with Store(gdir, GROUP) as store:
            list(store.all_entries())
            store.append(member(1).secret, member(1).public, [b"more"], 1)
    assert log_bytes(gdir) == bytes(damaged)  # nothing cut, nothing appended


def test_audit_reads_on_past_damage(tmp_path: Path) -> None:
    home = tmp_path / "home"
    gdir = home / "groups" / GROUP.hex()
    with Store(gdir, GROUP) as store:
        store.ingest(make_feed(member(1), 12))
        store.ingest(make_feed(member(2), 3))
    data = bytearray(log_bytes(gdir))
    start, end = frame_bounds(bytes(data))[4]
    data[start + 10] ^= 0xFF
    (gdir / LOG_NAME).write_bytes(bytes(data))
    report = audit(home, {})
    kinds = [e["kind"] for e in report["errors"]]
    assert not report["valid"] and "damaged_file" in kinds
    assert report["entries"] == 14  # every whole frame after the damage is still read


def test_a_torn_tail_is_still_cut(tmp_path: Path) -> None:
    gdir = tmp_path / "g"
    with Store(gdir, GROUP) as store:
        store.ingest(make_feed(member(1), 3))
    good = log_bytes(gdir)
    (gdir / LOG_NAME).write_bytes(good + good[:20])
    with Store(gdir, GROUP) as store:
        assert len(list(store.all_entries())) == 3
    assert log_bytes(gdir) == good
