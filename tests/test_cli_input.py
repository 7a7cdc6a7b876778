"""Input the parser lets through but the core must refuse, before writing anything."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from cli_helpers import REPO_ROOT, ok, one_json, run, snapshot


def _run_bytes(home: Path, *args: bytes) -> tuple[int, str, str]:
    """Like ``run``, with raw argument bytes (not UTF-8 ones reach Python as surrogates)."""
    env = {k: v for k, v in os.environ.items() if k != "SSBMONEY_HOME"}
    env["PYTHONPATH"] = str(REPO_ROOT)
    done = subprocess.run([sys.executable.encode(), b"-m", b"ssbmoney", b"--home",
                           bytes(home), *args, b"--json"], capture_output=True, env=env)
    return done.returncode, done.stdout.decode(), done.stderr.decode(errors="replace")


def test_text_that_would_not_fit_or_not_read_back_is_refused(tmp_path: Path) -> None:
    home = tmp_path / "h"
    code, out, err = _run_bytes(home, b"init", b"--name", b"\xff")
    assert code == 2 and one_json(out)["error"]["kind"] == "bad_input" and "UTF-8" in err
    assert not home.exists()
    ok(home, "init", "--name", "Ana")
    before = snapshot(home)
    for args in (["group", "create", "n" * 300, "--currency", "EUR"],
                 ["group", "create", "n" * 70_000, "--currency", "EUR"]):
        code, _out, err = run(home, *args, "--json")
        assert code == 2 and "Traceback" not in err
    assert snapshot(home) == before and ok(home, "group", "list")["groups"] == []

    ok(home, "group", "create", "Pot", "--currency", "EUR")
    before = snapshot(home)
    for args in (["deposit", "5", "--note", "x" * 2_500],
                 ["propose", "--title", "t" * 3_000, "--amount", "5"]):
        code, _out, err = run(home, *args, "--json")
        assert code == 2 and "at most" in err
    code, _out, err = _run_bytes(home, b"deposit", b"5", b"--note", b"\xc3")
    assert code == 2 and "UTF-8" in err
    assert snapshot(home) == before
    assert ok(home, "group", "--json", "list")["groups"][0]["name"] == "Pot"


def test_a_non_member_cannot_close(tmp_path: Path) -> None:
    ana, zoe = tmp_path / "ana", tmp_path / "zoe"
    ok(ana, "init", "--name", "Ana")
    ok(zoe, "init", "--name", "Zoe")
    invite = ok(ana, "group", "create", "Pot", "--currency", "EUR")["invite"]
    proposal = ok(ana, "propose", "--title", "Tea", "--amount", "5")["proposal"]
    ok(zoe, "group", "join", invite)
    out = tmp_path / "x"
    ok(ana, "export", "--out", str(out))
    ok(zoe, "import", str(out))
    before = snapshot(zoe)
    code, raw, err = run(zoe, "close", proposal[:6], "--json")
    assert code == 2 and "not a member" in err and "error" in one_json(raw)
    assert snapshot(zoe) == before
