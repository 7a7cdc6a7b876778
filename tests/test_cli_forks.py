"""Forks travel: every branch of a forked feed and its proof reach every home that
imports an export, and homes that got the branches in different orders agree."""

from __future__ import annotations

import shutil
from pathlib import Path

from cli_helpers import ok, one_json, run


def _exchange(homes: list[Path], tmp: Path, order: list[tuple[int, int]]) -> None:
    for n, (src, dst) in enumerate(order):
        out = tmp / f"x{n}"
        ok(homes[src], "export", "--out", str(out))
        ok(homes[dst], "import", str(out))  # every branch is taken in


def test_forked_feed_converges_everywhere(tmp_path: Path) -> None:
    a, b, c, d = (tmp_path / name for name in ("a", "b", "c", "d"))
    ok(a, "init", "--name", "Ana")
    invite = ok(a, "group", "create", "Pot", "--currency", "EUR")["invite"]
    ok(a, "deposit", "100")
    for home, name in ((b, "Bea"), (c, "Cem"), (d, "Dan")):
        ok(home, "init", "--name", name)
        ok(home, "group", "join", invite)
    # Ana restores an old backup on a second laptop and both laptops write: a fork.
    a2 = tmp_path / "a2"
    shutil.copytree(a, a2)
    ok(a, "deposit", "1")
    ok(a, "deposit", "2")
    ok(a2, "deposit", "1000")
    homes = [a, a2, b, c]
    _exchange(homes, tmp_path / "one", [(0, 2), (1, 2), (1, 3), (0, 3)])
    _exchange(homes, tmp_path / "all", [(i, j) for i in range(4) for j in range(4) if i != j])
    views = [ok(h, "status") for h in homes]
    assert len({v["state_hash"] for v in views}) == 1, [v["state_hash"] for v in views]
    assert all(any(w["kind"] == "fork" for w in v["warnings"]) for v in views)
    assert views[0]["deposited"] == 110300  # money counts on both branches

    # Dan only ever sees Bea's export: he learns of the fork from its proof.
    out = tmp_path / "from-bea"
    ok(b, "export", "--out", str(out))
    ok(d, "import", str(out))
    dan = ok(d, "status")
    assert dan["deposited"] == 110300 and dan["state_hash"] == views[0]["state_hash"]
    assert any(w["kind"] == "fork" and w["feed"] == _fork_feed(views[0])
               for w in dan["warnings"])
    code, raw, _err = run(d, "audit", str(d), "--json")
    report = one_json(raw)
    assert code == 3 and len(report["forks"]) == 1 and report["errors"] == []
    code, text, _err = run(d, "audit", str(d))
    assert code == 3 and "at seq " in text and "None" not in text


def _fork_feed(view: dict) -> str:
    return next(w["feed"] for w in view["warnings"] if w["kind"] == "fork")


def test_garbage_fork_proof_is_a_typed_error(tmp_path: Path) -> None:
    a = tmp_path / "a"
    ok(a, "init", "--name", "Ana")
    ok(a, "group", "create", "Pot", "--currency", "EUR")
    out = tmp_path / "out"
    ok(a, "export", "--out", str(out))
    (group_folder,) = [p for p in out.iterdir() if p.is_dir()]
    from ssbmoney.core.framing import FORKS_MAGIC, frame

    (group_folder / "forks.proof").write_bytes(
        FORKS_MAGIC + frame(b"\xc1") + frame(b"\x93\x01\x02\x03"))
    code, raw, err = run(a, "audit", str(out), "--json")
    assert code == 3 and "Traceback" not in err
    assert {e["kind"] for e in one_json(raw)["errors"]} == {"bad_fork_proof"}
    code, raw, err = run(a, "import", str(out), "--json")
    assert code == 1 and "Traceback" not in err and "error" in one_json(raw)
