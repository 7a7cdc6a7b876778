"""Audit, export and import: feeds as files an auditor or a USB stick can carry.

An *export* is a folder with one sub-folder per group (named by the group id in hex)
holding one ``<feed key hex>.feed`` file per feed (the entries of every branch, by
sequence then id, after ``framing.LOG_MAGIC`` and framed as in the store's log) and,
where there are any, ``forks.proof`` (``framing.FORKS_MAGIC``, then framed fork
proofs). It holds no keys: content stays sealed. Files of an older format are refused
whole.

An *audit* replays every feed under a home or an export in FULL mode (every
signature checked) and reports what is valid, what is not and where; with a group's
key it also folds the valid entries and reports the state hash.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import msgpack

from ssbmoney.core import entry as entry_mod
from ssbmoney.core import framing, money
from ssbmoney.core.entry import Entry, entry_id, feed_id
from ssbmoney.core.errors import BadInput, ValidationError
from ssbmoney.core.group import GroupKeys
from ssbmoney.core.ledger import Ledger
from ssbmoney.core.validate import FeedState, Mode, validate_run
from ssbmoney.store.group_store import FORKS_NAME, LOG_NAME, Store, fsync_dir

FEED_SUFFIX = ".feed"
FORKS_FILE = "forks.proof"


def json_int(value: int | None) -> int | None:
    """``value`` when every JSON reader keeps it exact, else None (a crafted sequence
    number can be up to 2^64 - 1)."""
    if value is None or -money.MAX_JSON_INT <= value <= money.MAX_JSON_INT:
        return value
    return None


def error_row(err: ValidationError, feed: bytes | None = None) -> dict[str, Any]:
    where = err.feed if err.feed is not None else feed
    return {
        "feed": feed_id(where) if where is not None else None,
        "seq": json_int(err.seq),
        "entry": entry_id(err.entry) if err.entry is not None else None,
        "kind": err.kind,
        "message": err.message,
    }


class _GroupData:
    """Raw material of one group found under a path: entries by feed, fork proofs."""

    def __init__(self, group: bytes) -> None:
        self.group = group
        self.feeds: dict[bytes, list[Entry]] = {}
        self.errors: list[dict[str, Any]] = []
        self.proofs: list[tuple[Entry, Entry]] = []

    def take(self, payloads: Iterable[bytes], feed: bytes | None, where: str) -> None:
        for index, payload in enumerate(payloads):
            try:
                item = entry_mod.decode(payload)
            except ValidationError as err:
                err.located(feed, None, None)
                row = error_row(err)
                row["message"] = f"{where}, frame {index + 1}: {err.message}"
                self.errors.append(row)
                continue
            self.feeds.setdefault(item.author, []).append(item)


def read_regular(path: Path) -> bytes:
    """A file's bytes, only if it is a regular file (not a folder, FIFO, device or
    symbolic link): an export is hostile input, and reading a FIFO would hang and
    /dev/zero would never end. Never reads past the size it had when opened."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as err:
        raise BadInput(f"{path} cannot be read as a file ({err.strerror})") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise BadInput(f"{path} is not a regular file")
        chunks, left = [], info.st_size
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def _frames(
    path: Path,
    data_errors: list[dict[str, Any]],
    feed: bytes | None,
    torn_ok: bool = False,
    magic: bytes = framing.LOG_MAGIC,
) -> list[bytes]:
    """Payloads of a framed file, reading on past damage to every whole frame after it
    (in linear time).

    A home's log may end in a torn, never acknowledged frame left by a crash
    (``torn_ok``): the next writer cuts it, and it is no error. Damage anywhere else
    is reported, with how many bytes were skipped and where reading resumed. A file
    of another format is refused whole (BadInput).
    """
    data = read_regular(path)
    try:
        framing.check_magic(data, magic, str(path))
    except framing.FormatMismatch as err:
        raise BadInput(err.message) from None
    frames, damage = framing.read_all(data, framing.MAGIC_SIZE)
    for pos, resume in damage:
        if resume is None and torn_ok:
            break
        skipped = (resume if resume is not None else len(data)) - pos
        data_errors.append({
            "feed": feed_id(feed) if feed else None, "seq": None, "entry": None,
            "kind": "damaged_file",
            "message": f"{path}: damaged at offset {pos}, {count_of(skipped, 'byte')} that"
            " are not whole frames skipped"
            + (f"; read on from offset {resume}" if resume is not None else ""),
        })
    return [payload for _offset, payload in frames]


def count_of(n: int, word: str) -> str:
    """``1 entry``, ``2 entries``, ``1 feed``, ``0 feeds``."""
    if n == 1:
        return f"1 {word}"
    return f"{n} {word[:-1]}ies" if word.endswith("y") else f"{n} {word}s"


def _read_proofs(path: Path, data_errors: list[dict[str, Any]]) -> list[tuple[Entry, Entry]]:
    """The fork proofs in a file, decoded; anything else in it is reported, not raised."""
    if not path.exists():
        return []
    out = []
    for index, payload in enumerate(_frames(path, data_errors, None,
                                            magic=framing.FORKS_MAGIC)):
        try:
            first_raw, second_raw = msgpack.unpackb(payload)
            out.append((entry_mod.decode(first_raw), entry_mod.decode(second_raw)))
        except (ValueError, TypeError, ValidationError, msgpack.UnpackException) as err:
            data_errors.append({
                "feed": None, "seq": None, "entry": None, "kind": "bad_fork_proof",
                "message": f"{path}, proof {index + 1}: not two entries ({err})",
            })
    return out


def collect(path: Path) -> list[_GroupData]:
    """Find every group's feeds under a home or an export folder."""
    path = Path(path)
    if not path.is_dir():
        raise BadInput(f"{path} is not a folder (give a home or an exported feeds folder)")
    groups: list[_GroupData] = []
    home_groups = path / "groups"
    base = home_groups if home_groups.is_dir() else path
    for child in sorted(base.iterdir()):
        if not child.is_dir():
            continue
        try:
            group = bytes.fromhex(child.name)
        except ValueError:
            continue
        if len(group) != 32:
            continue
        data = _GroupData(group)
        log = child / LOG_NAME
        if log.exists():
            data.take(_frames(log, data.errors, None, torn_ok=True), None, str(log))
            data.proofs = _read_proofs(child / FORKS_NAME, data.errors)  # before feeds
        for feed_file in sorted(child.glob("*" + FEED_SUFFIX)):
            try:
                feed: bytes | None = bytes.fromhex(feed_file.stem)
            except ValueError:
                feed = None
            if feed is not None and len(feed) != 32:
                feed = None  # not named by a feed key: report what is in it by its entries
            data.take(_frames(feed_file, data.errors, feed), feed, str(feed_file))
        data.proofs += _read_proofs(child / FORKS_FILE, data.errors)
        groups.append(data)
    if not groups:
        raise BadInput(f"no feeds found under {path}")
    return groups


def audit(path: Path, keys_by_group: dict[bytes, tuple[GroupKeys, str]]) -> dict[str, Any]:
    """Verify everything under ``path``; fold each group whose key is known."""
    total_feeds = total_entries = 0
    errors: list[dict[str, Any]] = []
    forks: list[dict[str, Any]] = []
    vouched: list[dict[str, Any]] = []
    reports = []
    for data in collect(path):
        errors.extend(data.errors)
        valid_entries: list[Entry] = []
        for feed, items in sorted(data.feeds.items()):
            total_feeds += 1
            total_entries += len(items)
            items.sort(key=lambda e: (e.seq, e.id))
            result = validate_run(FeedState(feed, data.group), items, Mode.FULL)
            valid_entries.extend(result.accepted)
            if result.error is not None:
                row = error_row(result.error, feed)
                if result.rejected > 1:
                    later = count_of(result.rejected - 1, "later entry")
                    row["message"] += f" ({later} not accepted)"
                errors.append(row)
            for proof in result.forks:
                row = _fork_row(proof.author, proof.seq, proof.first_id, proof.second.id)
                if row not in forks:
                    forks.append(row)
            vouched.extend(
                {"feed": feed_id(feed), "seq": json_int(e.seq), "entry": entry_id(e.id)}
                for e in result.vouched
            )
        for first, second in data.proofs:
            if not proves_fork(first, second, data.group):
                errors.append({"feed": feed_id(second.author), "seq": json_int(second.seq),
                               "entry": entry_id(second.id), "kind": "bad_fork_proof",
                               "message": "a fork proof that does not prove a fork"})
                continue
            row = _fork_row(first.author, first.seq, first.id, second.id)
            if row not in forks:
                forks.append(row)
        report: dict[str, Any] = {"group": data.group.hex(), "state_hash": None}
        known = keys_by_group.get(data.group)
        if known is not None:
            # The ledger finds the forks in the entries of every branch it is given.
            ledger = Ledger(known[0], known[1])
            ledger.add_all(valid_entries)
            view = ledger.view()
            report.update({k: view[k] for k in (
                "state_hash", "currency", "balance", "deposited", "spent", "committed",
                "available", "warnings")})
        reports.append(report)
    return {
        "valid": not errors and not forks,
        "feeds": total_feeds,
        "entries": total_entries,
        "errors": errors,
        "forks": forks,
        "vouched": vouched,
        "groups": reports,
        "state_hash": reports[0]["state_hash"] if len(reports) == 1 else None,
    }


def _fork_row(author: bytes, seq: int, first: bytes, second: bytes) -> dict[str, Any]:
    ids = sorted([entry_id(first), entry_id(second)])
    return {"feed": feed_id(author), "seq": json_int(seq), "entries": ids}


def proves_fork(first: Entry, second: Entry, group: bytes) -> bool:
    """Two different entries of one feed of ``group`` at one sequence, both signed."""
    return (first.author == second.author and first.seq == second.seq
            and first.id != second.id and first.group == second.group == group
            and first.signature_ok() and second.signature_ok())


def export(stores: Iterable[Store], out: Path) -> dict[str, int]:
    """Write each store's feeds, one file per feed (every branch), under ``out``."""
    out = Path(out)
    feeds = entries = 0
    for store in stores:
        folder = out / store.group.hex()
        folder.mkdir(parents=True, exist_ok=True)
        by_feed: dict[bytes, list[Entry]] = {}
        for item in store.all_entries():
            by_feed.setdefault(item.author, []).append(item)
        for feed, items in by_feed.items():
            items.sort(key=lambda e: (e.seq, e.id))
            _write_file(folder / (feed.hex() + FEED_SUFFIX), framing.LOG_MAGIC
                        + b"".join(framing.frame(e.raw) for e in items))
            feeds += 1
            entries += len(items)
        proofs = store.forks()
        if proofs:
            _write_file(folder / FORKS_FILE, framing.FORKS_MAGIC + b"".join(
                framing.frame(msgpack.packb([p.first.raw if p.first else None, p.second.raw]))
                for p in proofs))
        fsync_dir(folder)
    return {"feeds": feeds, "entries": entries}


def _write_file(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        written = 0
        while written < len(data):
            written += os.write(fd, data[written:])
        os.fsync(fd)
    finally:
        os.close(fd)
