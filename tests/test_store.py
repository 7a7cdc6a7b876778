"""The store's promises, proved on real files with real signatures and real processes.

* basics: what is appended or ingested is what a reopened store holds, whatever the
  arrival order; duplicates are harmless; every refused ingest leaves every stored
  byte as it was; a fork is kept as proof and closes the feed, for good;
* the index is only a cache: missing, garbage, behind or ahead, it is rebuilt or
  caught up from the log and gives the same answers;
* a torn tail (a crash inside the last frame, at every byte offset of it, or junk a
  power cut left) is cut back to the last whole frame, and the store goes on;
* several processes (different feeds, one feed from two processes, a reader) share
  one home: writes serialize, no fork, no interleaved frame, reads always consistent.
"""

from __future__ import annotations

import os
import random
import shutil
import sqlite3
import threading
import time
from pathlib import Path

import pytest
from store_fixtures import (
    GROUP,
    OTHER_GROUP,
    STAMP,
    Child,
    Snapshot,
    check_store,
    copy_group,
    drop_index,
    forks_bytes,
    frame_bounds,
    index_paths,
    log_bytes,
    make_feed,
    member,
    reader_args,
    snapshot,
    snapshot_dir,
    writer_args,
)

from ssbmoney.core import entry as entry_mod
from ssbmoney.core import framing
from ssbmoney.core.entry import Entry
from ssbmoney.core.errors import StoreError
from ssbmoney.core.keys import KeyPair
from ssbmoney.core.validate import Mode
from ssbmoney.store.group_store import FORKS_NAME, INDEX_NAME, LOG_NAME, Store

ME = member(1)
ALICE = member(2)
BOB = member(3)
CAROL = member(4)


def bad_signature(item: Entry) -> Entry:
    """The same entry with one bit of its signature flipped (still decodes)."""
    sig = bytes([item.signature[0] ^ 1]) + item.signature[1:]
    return entry_mod.decode(entry_mod.resign_raw(item.envelope, sig, item.content))


def stored_state(directory: Path) -> tuple[bytes, bytes]:
    return log_bytes(directory), forks_bytes(directory)


@pytest.fixture
def gdir(tmp_path: Path) -> Path:
    return tmp_path / "home" / "groups" / GROUP.hex()


# ======================================================================= basics


def test_append_then_reopen_gives_the_same_store(gdir: Path) -> None:
    made: list[Entry] = []
    with Store(gdir, GROUP) as store:
        for size in (1, 3, 1, 5, 2):
            batch = store.append(
                ME.secret, ME.public, [b"c%d" % len(made) + b"x" * i for i in range(size)], STAMP
            )
            assert [e.seq for e in batch] == list(range(len(made) + 1, len(made) + size + 1))
            made.extend(batch)
        assert store.append(ME.secret, ME.public, [], STAMP) == []
        before = snapshot(store)
    assert before.count == len(made) == 12
    assert before.log == tuple(e.raw for e in made)
    head = before.heads[ME.public]
    assert (head.seq, head.head, head.forked) == (12, made[-1].id, False)

    with Store(gdir, GROUP) as store:
        assert snapshot(store) == before
        assert store.feed_entries(ME.public) == made
        assert store.feed_entries(ME.public, from_seq=10) == made[9:]
        assert store.feed_entries(ME.public, from_seq=13) == []
        assert store.feed_entries(ALICE.public) == []
        assert list(store.all_entries()) == made
        for item in made:
            assert store.get(item.id) == item
        assert store.get(b"\0" * 32) is None
        # The chain goes on from the reopened head, with a clock asked once.
        more = store.append(ME.secret, ME.public, [b"a", b"b"], lambda: STAMP + 5)
        assert [(e.seq, e.claimed_ms) for e in more] == [(13, STAMP + 5), (14, STAMP + 5)]
        assert more[0].previous == made[-1].id
    check_store(gdir)


def test_ingest_shuffled_feeds_in_one_call_and_in_many(gdir: Path, tmp_path: Path) -> None:
    members = [ALICE, BOB, CAROL]
    feeds = {kp.public: make_feed(kp, 9, tag=bytes([n])) for n, kp in enumerate(members)}
    everything = [e for run in feeds.values() for e in run]
    rng = random.Random(7)

    shuffled = everything[:]
    rng.shuffle(shuffled)
    with Store(gdir, GROUP) as store:
        store.append(ME.secret, ME.public, [b"mine"], STAMP)
        report = store.ingest(shuffled)
        assert report.errors == () and report.forks == () and report.duplicates == 0
        assert sorted(e.id for e in report.accepted) == sorted(e.id for e in everything)
        for author, run in feeds.items():
            assert store.feed_entries(author) == run
            assert store.heads()[author].seq == 9
    one_call = snapshot_dir(gdir)
    assert one_call.count == 28
    check_store(gdir)

    # In many calls: each feed's runs come in order, but interleaved across feeds and
    # each call's contents shuffled; FULL mode checks every signature on the way.
    other = tmp_path / "other"
    queues = {a: [run[0:2], run[2:3], run[3:7], run[7:9]] for a, run in feeds.items()}
    with Store(other, GROUP) as store:
        while any(queues.values()):
            author = rng.choice([a for a, q in queues.items() if q])
            chunk = queues[author].pop(0)
            if rng.random() < 0.5 and any(queues.values()):
                second = rng.choice([a for a, q in queues.items() if q])
                chunk = chunk + queues[second].pop(0)
            chunk = chunk[:]
            rng.shuffle(chunk)
            report = store.ingest(chunk, Mode.FULL)
            assert report.errors == () and len(report.accepted) == len(chunk)
        for author, run in feeds.items():
            assert store.feed_entries(author) == run
    assert snapshot_dir(other).feeds == {a: tuple(e.raw for e in r) for a, r in feeds.items()}


def test_duplicates_are_harmless(gdir: Path) -> None:
    alice = make_feed(ALICE, 6)
    with Store(gdir, GROUP) as store:
        store.append(ME.secret, ME.public, [b"1", b"2"], STAMP)
        store.ingest(alice[:4])
        before = stored_state(gdir), snapshot(store)
        mine = store.feed_entries(ME.public)
        again = alice[:4] + mine + alice[1:3]
        random.Random(3).shuffle(again)
        report = store.ingest(again)
        assert report.accepted == () and report.errors == () and report.forks == ()
        assert report.duplicates == len(again)
        assert (stored_state(gdir), snapshot(store)) == before
        # Duplicates mixed with new entries: only the new ones are kept.
        report = store.ingest(alice[2:] + alice[:2])
        assert [e.seq for e in report.accepted] == [5, 6] and report.duplicates == 4
        assert report.errors == ()
        assert store.feed_entries(ALICE.public) == alice
    check_store(gdir)


def _held_store(gdir: Path) -> list[Entry]:
    """A store holding Alice 1..5, Bob 1..2 and two of my own entries."""
    alice = make_feed(ALICE, 5)
    with Store(gdir, GROUP) as store:
        store.append(ME.secret, ME.public, [b"m1", b"m2"], STAMP)
        report = store.ingest(alice + make_feed(BOB, 2))
        assert report.errors == ()
    return alice


def _bad_runs(alice: list[Entry]) -> dict[str, tuple[list[Entry], str]]:
    nxt = make_feed(ALICE, 3, start=6, previous=alice[-1].id, tag=b"next")
    other_branch = make_feed(ALICE, 2, start=7, previous=b"\x42" * 32)
    return {
        "bad_signature": ([bad_signature(nxt[0])], "bad_signature"),
        "bad_signature_last_of_run": (
            [bad_signature(e) for e in nxt], "bad_signature"
        ),
        "forged_other_entry_at_held_seq": (
            [bad_signature(make_feed(ALICE, 1, tag=b"forged")[0])], "bad_signature"
        ),
        "wrong_previous": (
            make_feed(ALICE, 2, start=6, previous=alice[2].id), "wrong_previous"
        ),
        "wrong_previous_nil": (make_feed(ALICE, 1, start=6, previous=None), "wrong_previous"),
        "gap": (other_branch, "sequence_gap"),
        "gap_after_hole": ([nxt[1], nxt[2]], "sequence_gap"),
        "wrong_group": (
            make_feed(ALICE, 1, start=6, previous=alice[-1].id, group=OTHER_GROUP),
            "wrong_group",
        ),
        "wrong_group_new_feed": (make_feed(CAROL, 2, group=OTHER_GROUP), "wrong_group"),
        "new_feed_not_from_1": (make_feed(CAROL, 2, start=2, previous=b"\1" * 32), "sequence_gap"),
    }


@pytest.mark.parametrize("case", sorted(_bad_runs(make_feed(ALICE, 5))))
def test_each_ingest_error_changes_nothing_stored(gdir: Path, case: str) -> None:
    alice = _held_store(gdir)
    run, kind = _bad_runs(alice)[case]
    with Store(gdir, GROUP) as store:
        before = stored_state(gdir), snapshot(store)
        report = store.ingest(run)
        assert [e.kind for e in report.errors] == [kind]
        assert report.accepted == () and report.forks == ()
        assert (stored_state(gdir), snapshot(store)) == before
    assert snapshot_dir(gdir) == before[1]
    assert stored_state(gdir) == before[0]
    # The feed is not poisoned by a refused entry: the right one is still taken.
    with Store(gdir, GROUP) as store:
        right = make_feed(ALICE, 1, start=6, previous=alice[-1].id, tag=b"next")
        assert store.ingest(right).accepted == tuple(right)
    check_store(gdir)


def test_a_bad_signature_keeps_the_vouched_prefix(gdir: Path) -> None:
    alice = _held_store(gdir)
    # 6's own signature fails, but 7 names 6's id and is signed: 7 vouches for 6.
    # 8's signature fails and nothing after it vouches: 8 alone is refused.
    six = bad_signature(make_feed(ALICE, 1, start=6, previous=alice[-1].id)[0])
    seven = make_feed(ALICE, 1, start=7, previous=six.id)[0]
    eight = bad_signature(make_feed(ALICE, 1, start=8, previous=seven.id)[0])
    for mode in (Mode.CHAIN, Mode.FULL):
        work = gdir.parent / mode.value
        shutil.copytree(gdir, work)
        with Store(work, GROUP) as store:
            report = store.ingest([eight, six, seven], mode)
            assert report.accepted == (six, seven)
            assert [(e.kind, e.seq) for e in report.errors] == [("bad_signature", 8)]
            assert store.heads()[ALICE.public].seq == 7
        with Store(work, GROUP) as store:
            assert store.feed_entries(ALICE.public, 6) == [six, seven]


def test_fork_is_kept_as_a_branch_with_its_proof(gdir: Path) -> None:
    alice = _held_store(gdir)
    rival = make_feed(ALICE, 1, start=3, previous=alice[1].id, tag=b"rival")[0]
    with Store(gdir, GROUP) as store:
        report = store.ingest([rival])
        assert report.errors == () and report.accepted == (rival,)
        (proof,) = report.forks
        assert (proof.author, proof.seq, proof.first, proof.second) == (
            ALICE.public, 3, alice[2], rival,
        )
        assert forks_bytes(gdir)[: framing.MAGIC_SIZE] == framing.FORKS_MAGIC
        after_fork = snapshot(store)
        state = after_fork.heads[ALICE.public]
        assert state.forked and state.seq == 5 and state.head == alice[-1].id
        assert after_fork.forks == ((alice[2].raw, rival.raw),)
        assert store.ids_at(ALICE.public, 3) == {alice[2].id, rival.id}
        assert [e.id for e in store.entries_at(ALICE.public, 3)] == sorted(
            [alice[2].id, rival.id])
        assert store.has(rival.id) and rival in store.feed_entries(ALICE.public)
        assert rival in list(store.all_entries())

    def more(store: Store) -> None:
        # Entries on either branch are taken; copies are duplicates; forgeries refused.
        on_main = make_feed(ALICE, 1, start=6, previous=alice[-1].id)[0]
        on_rival = make_feed(ALICE, 2, start=4, previous=rival.id, tag=b"rival")
        report = store.ingest([on_main, *on_rival])
        assert report.errors == () and set(report.accepted) == {on_main, *on_rival}
        assert [p.seq for p in report.forks] == [4, 5]
        report = store.ingest([rival, alice[0]])
        assert report.errors == () and report.duplicates == 2 and report.accepted == ()
        forged = bad_signature(make_feed(ALICE, 1, start=2, tag=b"forged",
                                         previous=alice[0].id)[0])
        before = stored_state(gdir)
        report = store.ingest([forged])
        assert [e.kind for e in report.errors] == ["bad_signature"]
        assert stored_state(gdir) == before
        assert store.heads()[ALICE.public].forked
        assert store.heads()[ALICE.public].seq == 6
        # Other feeds go on.
        bob3 = make_feed(BOB, 3)[2]
        assert store.ingest([bob3]).accepted == (bob3,)

    with Store(gdir, GROUP) as store:  # after a reopen
        assert snapshot(store).forks == after_fork.forks
        more(store)
        proofs = snapshot(store).forks
        assert len(proofs) == 3  # one per sequence forked
        whole = snapshot(store)
    drop_index(gdir)
    with Store(gdir, GROUP) as store:  # after losing the index
        assert snapshot(store) == whole
        store.rebuild_index()  # and after an explicit rebuild
        assert snapshot(store) == whole
    check_store(gdir)


def test_appending_to_my_forked_feed_extends_its_head(gdir: Path) -> None:
    with Store(gdir, GROUP) as store:
        mine = store.append(ME.secret, ME.public, [b"a", b"b"], STAMP)
        rival = make_feed(ME, 1, start=2, previous=mine[0].id, tag=b"elsewhere")[0]
        assert len(store.ingest([rival]).forks) == 1
        head = store.heads()[ME.public]
        assert head.forked and head.head == min(mine[1].id, rival.id)
        (made,) = store.append(ME.secret, ME.public, [b"c"], STAMP)
        assert made.seq == 3 and made.previous == head.head
        assert store.heads()[ME.public].head == made.id
    with Store(gdir, GROUP) as store:
        (again,) = store.append(ME.secret, ME.public, [b"d"], STAMP)
        assert again.seq == 4 and again.previous == made.id
        assert store.ids_at(ME.public, 3) == {made.id}
    check_store(gdir)


def test_a_torn_fork_proof_does_not_hide_later_ones(gdir: Path) -> None:
    alice = _held_store(gdir)
    bob = make_feed(BOB, 2)
    with Store(gdir, GROUP) as store:
        store.ingest(bob)
        store.ingest([make_feed(ALICE, 1, tag=b"rival")[0]])
    with open(gdir / FORKS_NAME, "ab") as f:  # a proof cut short by a crash
        f.write(framing.frame(b"\x92" + b"\xc4" * 40)[:30])
    with Store(gdir, GROUP) as store:
        assert len(store.forks()) == 1
        assert len(store.ingest([make_feed(BOB, 1, tag=b"rival")[0]]).forks) == 1
    with Store(gdir, GROUP) as store:
        assert [p.author for p in store.forks()] == [ALICE.public, BOB.public]
        heads = store.heads()
        assert heads[ALICE.public].forked and heads[BOB.public].forked
        report = store.ingest(make_feed(BOB, 1, start=3, previous=bob[1].id))
        assert report.errors == () and len(report.accepted) == 1
        assert set(alice) < set(store.feed_entries(ALICE.public))


def test_two_stores_in_one_process_see_each_other(gdir: Path) -> None:
    """The index trails the log: what one opener appended, another reads at once."""
    first = Store(gdir, GROUP)
    second = Store(gdir, GROUP)
    try:
        made = first.append(ME.secret, ME.public, [b"1", b"2", b"3"], STAMP)
        assert second.feed_entries(ME.public) == made  # not flushed by `first` yet
        assert second.heads()[ME.public].head == made[-1].id
        more = second.append(ME.secret, ME.public, [b"4"], STAMP)
        assert more[0].seq == 4 and more[0].previous == made[-1].id
        assert first.count() == 4 and first.get(more[0].id) == more[0]
    finally:
        first.close()
        second.close()
    check_store(gdir)


def test_threads_with_their_own_stores_serialize(gdir: Path) -> None:
    Store(gdir, GROUP).close()
    errors: list[BaseException] = []

    def work(kp_n: int) -> None:
        kp = member(kp_n)
        try:
            with Store(gdir, GROUP) as store:
                for i in range(15):
                    store.append(kp.secret, kp.public, [b"%d" % i] * (i % 3 + 1), STAMP)
        except BaseException as err:  # pragma: no cover - reported below
            errors.append(err)

    threads = [threading.Thread(target=work, args=(n,)) for n in (1, 1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    heads = check_store(gdir)
    assert heads[member(1).public].seq == 2 * 30 and heads[member(2).public].seq == 30
    assert not any(s.forked for s in heads.values())


# ============================================================ the index is a cache


def _rich_store(gdir: Path) -> Snapshot:
    alice = make_feed(ALICE, 8)
    with Store(gdir, GROUP) as store:
        store.append(ME.secret, ME.public, [b"a", b"b", b"c"], STAMP)
        store.ingest(alice + make_feed(BOB, 4))
        store.ingest([make_feed(BOB, 1, start=2, previous=b"\7" * 32)[0]])  # a fork: kept
        store.ingest([make_feed(ALICE, 1, start=5, previous=alice[3].id, tag=b"f")[0]])
        store.append(ME.secret, ME.public, [b"d"], STAMP)
        return snapshot(store)


def test_deleted_index_is_rebuilt_identically(gdir: Path) -> None:
    before = _rich_store(gdir)
    assert before.heads[ALICE.public].forked and before.count == 18
    drop_index(gdir)
    assert not (gdir / INDEX_NAME).exists()
    assert snapshot_dir(gdir) == before
    assert (gdir / INDEX_NAME).exists()
    # Only the wal/shm gone (or only the main file): the same answers.
    for name in ("index.sqlite-wal", "index.sqlite-shm", INDEX_NAME):
        (gdir / name).unlink(missing_ok=True)
        assert snapshot_dir(gdir) == before
    check_store(gdir)


def _page(directory: Path, table: str) -> tuple[int, int]:
    """(offset, size) of the root page of ``table`` in the (closed) index file."""
    db = sqlite3.connect(directory / INDEX_NAME)
    try:
        size = db.execute("PRAGMA page_size").fetchone()[0]
        root = db.execute("SELECT rootpage FROM sqlite_master WHERE name=?", (table,)).fetchone()
    finally:
        db.close()
    return (root[0] - 1) * size, size


def _garbage(directory: Path, how: str) -> None:
    path = directory / INDEX_NAME
    data = bytearray(path.read_bytes())
    rng = random.Random(how)
    if how == "all_garbage":
        data = bytearray(rng.randbytes(len(data)))
    elif how == "garbage_header":
        data[:100] = rng.randbytes(100)
    elif how == "empty_file":
        data = bytearray()
    elif how == "text":
        data = bytearray(b"this is not an index\n" * 50)
    elif how == "first_page_only":
        data = data[:4096]
    elif how in ("feeds_table", "meta_table", "entries_table"):
        offset, size = _page(directory, how.split("_")[0])
        data[offset : offset + size] = rng.randbytes(size)
    path.write_bytes(bytes(data))


GARBAGE = ["all_garbage", "garbage_header", "empty_file", "text", "first_page_only",
           "feeds_table", "meta_table"]


@pytest.mark.parametrize("how", GARBAGE)
def test_garbage_index_is_rebuilt(gdir: Path, how: str) -> None:
    before = _rich_store(gdir)
    assert not any(p.exists() for p in index_paths(gdir)[1:])  # closed: wal checkpointed
    _garbage(gdir, how)
    with Store(gdir, GROUP) as store:
        assert snapshot(store) == before
        made = store.append(ME.secret, ME.public, [b"after"], STAMP)
    after = snapshot_dir(gdir)
    assert after.heads[ME.public].head == made[0].id and after.count == before.count + 1
    check_store(gdir)


def test_garbage_in_the_entries_table_is_rebuilt(gdir: Path) -> None:
    for n in range(4, 40):  # enough rows for the entries table to span pages
        make = make_feed(member(n), 20)
        with Store(gdir, GROUP) as store:
            store.ingest(make)
    before = snapshot_dir(gdir)
    _garbage(gdir, "entries_table")
    assert snapshot_dir(gdir) == before


def test_rebuild_index_gives_equal_results(gdir: Path) -> None:
    before = _rich_store(gdir)
    with Store(gdir, GROUP) as store:
        store.rebuild_index()
        assert snapshot(store) == before
        store.rebuild_index()
        store.rebuild_index()
        assert snapshot(store) == before
    assert snapshot_dir(gdir) == before


def test_an_index_that_is_behind_catches_up(gdir: Path, tmp_path: Path) -> None:
    with Store(gdir, GROUP) as store:
        store.append(ME.secret, ME.public, [b"a", b"b"], STAMP)
        store.ingest(make_feed(ALICE, 3))
    old = tmp_path / "old-index"
    old.mkdir()
    for path in index_paths(gdir):
        if path.exists():
            shutil.copy2(path, old / path.name)

    alice = make_feed(ALICE, 6)
    with Store(gdir, GROUP) as store:
        store.append(ME.secret, ME.public, [b"c"], STAMP)
        store.ingest(alice[3:] + make_feed(BOB, 2))
        store.ingest([make_feed(BOB, 1, tag=b"fork")[0]])
        full = snapshot(store)
    assert full.count == 12 and full.heads[BOB.public].forked

    drop_index(gdir)
    for path in old.iterdir():
        shutil.copy2(path, gdir / path.name)
    with Store(gdir, GROUP) as store:
        assert snapshot(store) == full
        assert store.feed_entries(ALICE.public) == alice
    assert snapshot_dir(gdir) == full
    check_store(gdir)


def test_an_index_ahead_of_the_log_is_rebuilt(gdir: Path) -> None:
    with Store(gdir, GROUP) as store:
        store.append(ME.secret, ME.public, [b"a", b"b"], STAMP)
        short = snapshot(store)
        short_log = log_bytes(gdir)
        store.append(ME.secret, ME.public, [b"c", b"d"], STAMP)
        store.ingest(make_feed(ALICE, 2))
    # The log is put back to an older copy while the index describes the newer one.
    (gdir / LOG_NAME).write_bytes(short_log)
    assert snapshot_dir(gdir) == short
    check_store(gdir)


# ==================================================================== torn tail


def _torn_fixture(base: Path) -> tuple[Path, Path, bytes, list[Entry]]:
    """A group dir whose last frame is one small entry of mine, plus an index copy
    made just before that frame (as an index that trails the log would be)."""
    with Store(base, GROUP) as store:
        store.append(ME.secret, ME.public, [b"one", b"two"], STAMP)
        store.ingest(make_feed(ALICE, 2))
        kept = list(store.all_entries())
    trailing = base.parent / "trailing-index"
    trailing.mkdir()
    for path in index_paths(base):
        if path.exists():
            shutil.copy2(path, trailing / path.name)
    with Store(base, GROUP) as store:
        store.append(ME.secret, ME.public, [b"last"], STAMP)
    return base, trailing, log_bytes(base), kept


def test_a_tail_torn_at_every_offset_of_the_last_frame_is_cut(tmp_path: Path) -> None:
    base, trailing, full, kept = _torn_fixture(tmp_path / "base")
    last_start, last_end = frame_bounds(full)[-1]
    assert last_end == len(full)
    expected_heads = {e.author: e for e in kept}  # last entry of each feed in the prefix
    variants = ("trailing_index", "no_index", "index_ahead")
    for offset in range(last_start, last_end):
        variant = variants[offset % len(variants)]
        work = tmp_path / f"cut{offset}"
        copy_group(base, work, index=variant == "index_ahead")
        if variant == "trailing_index":
            for path in trailing.iterdir():
                shutil.copy2(path, work / path.name)
        with open(work / LOG_NAME, "r+b") as f:
            f.truncate(offset)

        with Store(work, GROUP) as store:
            assert list(store.all_entries()) == kept, (offset, variant)
            assert store.count() == len(kept)
            heads = store.heads()
            assert {a: (s.seq, s.head) for a, s in heads.items()} == {
                a: (e.seq, e.id) for a, e in expected_heads.items()
            }
            assert log_bytes(work) == full[:last_start], (offset, variant)
            made = store.append(ME.secret, ME.public, [b"again"], STAMP)
            assert made[0].seq == 3 and made[0].previous == expected_heads[ME.public].id
        with Store(work, GROUP) as store:
            assert list(store.all_entries()) == [*kept, made[0]]
            assert store.feed_entries(ME.public)[-1] == made[0]
        check_store(work)
        shutil.rmtree(work)


def _tails() -> dict[str, bytes]:
    rng = random.Random(11)
    junk_frame = framing.frame(b"junk payload")
    return {
        "zero_1": b"\0",
        "zero_7": b"\0" * 7,
        "zero_8": b"\0" * 8,
        "zero_9": b"\0" * 9,
        "zero_page": b"\0" * 4096,
        "zero_3_pages": b"\0" * 12288,
        "ff_page": b"\xff" * 4096,
        "random": rng.randbytes(777),
        "huge_length": b"\x7f\xff\xff\xff" + b"\0" * 100,
        "bad_crc": junk_frame[:4] + b"\0\0\0\0" + junk_frame[8:],
        "header_only": junk_frame[:8],
    }


@pytest.mark.parametrize("tail", sorted(_tails()))
def test_junk_at_the_tail_is_cut(gdir: Path, tail: str) -> None:
    with Store(gdir, GROUP) as store:
        store.append(ME.secret, ME.public, [b"a", b"b"], STAMP)
        store.ingest(make_feed(ALICE, 3))
        before = snapshot(store)
    good = log_bytes(gdir)
    with open(gdir / LOG_NAME, "ab") as f:
        f.write(_tails()[tail])
    with Store(gdir, GROUP) as store:
        assert snapshot(store) == before
        assert log_bytes(gdir) == good
        store.append(ME.secret, ME.public, [b"c"], STAMP)
    drop_index(gdir)  # and once more through a rebuild, after junk at the tail again
    with open(gdir / LOG_NAME, "ab") as f:
        f.write(_tails()[tail])
    assert snapshot_dir(gdir).heads[ME.public].seq == 3
    check_store(gdir)


def test_a_whole_frame_that_does_not_decode_is_not_cut(gdir: Path) -> None:
    """A good CRC round an undecodable entry is damage to report, not a torn write:
    nothing is cut, so nothing acknowledged can be lost by a wrong guess."""
    with Store(gdir, GROUP) as store:
        store.append(ME.secret, ME.public, [b"a"], STAMP)
    damaged = log_bytes(gdir) + framing.frame(b"\x93not an entry")
    (gdir / LOG_NAME).write_bytes(damaged)
    drop_index(gdir)
    with pytest.raises(StoreError):
        Store(gdir, GROUP)
    assert log_bytes(gdir) == damaged


# ================================================================ processes


def test_processes_share_one_home(tmp_path: Path) -> None:
    """Three feeds from three processes, one feed from two processes with the same key,
    and a reader checking consistency all along: serialized, complete, no fork."""
    gdir = tmp_path / "g"
    Store(gdir, GROUP).close()
    stop, go = tmp_path / "stop", tmp_path / "go"
    solo = [member(n) for n in (10, 11, 12)]
    shared = member(13)

    def writer(kp: KeyPair, rng_seed: int, name: str) -> Child:
        args = ("--batches", "40", "--pause-ms", "4", "--go-file", str(go))
        return Child(writer_args(gdir, kp, *args, "--rng-seed", str(rng_seed)), tmp_path / name)

    writers = [writer(kp, i, f"w{i}") for i, kp in enumerate(solo)]
    writers += [writer(shared, 10 + i, f"s{i}") for i in range(2)]
    reader = Child(reader_args(gdir, stop), tmp_path / "reader")
    try:
        for child in [*writers, reader]:
            assert child.ready.wait(60), child.stderr()
        go.touch()
        for child in writers:
            assert child.wait(120) == 0, child.stderr()
    finally:
        stop.touch()
        go.touch()
        for child in [*writers, reader]:
            if child.proc.poll() is None:
                child.wait(60)
    assert reader.proc.returncode == 0, reader.stderr()
    assert reader.lines[-1].startswith("done")
    heads = check_store(gdir)
    assert set(heads) == {kp.public for kp in [*solo, shared]}
    assert not any(state.forked for state in heads.values())
    with Store(gdir, GROUP) as store:
        assert store.forks() == []
    for kp, child in zip(solo, writers[:3], strict=True):
        acked = child.acked()
        assert acked == set(range(1, heads[kp.public].seq + 1))
        assert child.lines[-1] == f"done {heads[kp.public].seq}"
    first, second = writers[3].acked(), writers[4].acked()
    assert first and second and not first & second
    # They really did take turns on the one feed (not one after the other).
    assert min(first) < max(second) and min(second) < max(first)
    assert first | second == set(range(1, heads[shared.public].seq + 1))
    # The reader saw the store grow and never saw it inconsistent.
    rounds = [line for line in reader.lines if line.startswith("read")]
    assert rounds, reader.lines


def test_a_reader_opened_before_the_writers_sees_all(tmp_path: Path) -> None:
    gdir = tmp_path / "g"
    with Store(gdir, GROUP) as reader:
        assert reader.heads() == {}
        kp = member(20)
        child = Child(writer_args(gdir, kp, "--batches", "12"), tmp_path / "w")
        assert child.wait(60) == 0, child.stderr()
        deadline = time.monotonic() + 5
        while reader.heads().get(kp.public) is None and time.monotonic() < deadline:
            time.sleep(0.01)
        acked = child.acked()
        assert reader.heads()[kp.public].seq == max(acked)
        assert [e.seq for e in reader.feed_entries(kp.public)] == sorted(acked)
        assert reader.count() == len(acked) == len(list(reader.all_entries()))
    check_store(gdir)


def test_new_store_directory_is_made(tmp_path: Path) -> None:
    gdir = tmp_path / "a" / "b" / "c"
    with Store(gdir, GROUP) as store:
        assert store.heads() == {} and store.count() == 0 and store.forks() == []
        assert list(store.all_entries()) == []
    assert sorted(os.listdir(gdir)) == sorted([LOG_NAME, INDEX_NAME, "lock"])
    with Store(gdir, GROUP) as store:
        assert store.count() == 0
