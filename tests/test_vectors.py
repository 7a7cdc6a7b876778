"""The implementation against the language-neutral vectors in feeds/vectors/."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # works uninstalled

from ssbmoney.core.entry import Entry, decode
from ssbmoney.core.errors import ValidationError
from ssbmoney.core.validate import FeedState, Mode, validate_run

ROOT = Path(__file__).resolve().parent.parent
VECTORS = ROOT / "feeds" / "vectors"
SCRIPT = ROOT / "scripts" / "gen_vectors"
CASE_FILES = sorted(VECTORS.glob("[0-9][0-9][0-9]-*.json"))
MODES = {"chain": [Mode.CHAIN], "full": [Mode.FULL], "both": [Mode.CHAIN, Mode.FULL]}


def _maybe(text: str | None) -> bytes | None:
    return None if text is None else bytes.fromhex(text)


def _outcome(case: dict[str, Any], mode: Mode) -> dict[str, Any]:
    """Run one case in one mode; report it in the vectors' ``expect`` vocabulary."""
    st = case["state"]
    held = {int(seq): [decode(bytes.fromhex(raw)) for raw in raws]
            for seq, raws in st["held"].items()}
    by_id = {e.id: e for entries_at in held.values() for e in entries_at}
    state = FeedState(
        bytes.fromhex(st["author"]), bytes.fromhex(st["group"]), st["seq"],
        _maybe(st["head"]), st["forked"],
    )
    entries: list[Entry] = []
    decode_error: ValidationError | None = None
    for index, (raw, want_id) in enumerate(zip(case["entries"], case["ids"], strict=True)):
        try:
            entry = decode(bytes.fromhex(raw))
        except ValidationError as err:
            assert want_id is None, f"entry {index} should decode"
            decode_error = err
            break
        assert entry.id.hex() == want_id, f"id of entry {index}"
        entries.append(entry)

    def ids_at(seq: int) -> set[bytes]:
        return {e.id for e in held.get(seq, ())}

    result = validate_run(state, entries, mode, ids_at=ids_at, entry_of=by_id.get)
    error, error_index, error_seq = None, None, None
    if result.error is not None:
        error, error_seq = result.error.kind, result.error.seq
        error_index = next(i for i, e in enumerate(entries) if e.id == result.error.entry)
        assert result.error.feed == state.author
    elif decode_error is not None:
        error, error_index = decode_error.kind, len(entries)
    for proof in result.forks:
        assert proof.author == state.author and proof.second in result.accepted
        assert proof.second.seq == proof.seq and proof.first_id != proof.second.id
        others = [*held.get(proof.seq, ()), *(e for e in result.accepted
                                               if e.seq == proof.seq)]
        assert proof.first_id in {e.id for e in others}
        if proof.first is not None:
            assert proof.first.id == proof.first_id
    for entry in result.vouched:
        assert entry in result.accepted and not entry.signature_ok()
    assert all(entry in entries for entry in result.accepted)
    return {
        "accepted": len(result.accepted),
        "duplicates": result.duplicates,
        "error": error,
        "error_index": error_index,
        "error_seq": error_seq,
        "fork": result.fork is not None,
        "forks": [proof.seq for proof in result.forks],
        "vouched": [entry.seq for entry in result.vouched],
        "state_seq": result.state.seq,
        "state_head": None if result.state.head is None else result.state.head.hex(),
        "state_forked": result.state.forked,
    }


@pytest.mark.parametrize("path", CASE_FILES, ids=[p.stem for p in CASE_FILES])
def test_vector(path: Path) -> None:
    case = json.loads(path.read_text(encoding="utf-8"))
    assert path.stem[4:] == case["name"]
    expect = case["expect"]
    verdicts = {}
    for mode in MODES[case["mode"]]:
        got = _outcome(case, mode)
        want = expect if mode is Mode.FULL else {**expect, "vouched": []}
        assert got == want, f"{mode.value} mode"
        verdicts[mode] = {k: v for k, v in got.items() if k != "vouched"}
    assert len({json.dumps(v, sort_keys=True) for v in verdicts.values()}) == 1


def test_enough_vectors() -> None:
    assert len(CASE_FILES) >= 30
    assert (VECTORS / "README.md").is_file()


def test_vectors_regenerate_identically(tmp_path: Path) -> None:
    subprocess.run([sys.executable, str(SCRIPT), "--out", str(tmp_path)], check=True,
                   capture_output=True, cwd=tmp_path)
    fresh = sorted(p.name for p in tmp_path.iterdir())
    committed = sorted(p.name for p in VECTORS.iterdir())
    assert fresh == committed
    for name in fresh:
        assert (tmp_path / name).read_bytes() == (VECTORS / name).read_bytes(), name
