"""serve, sync, group urls and the pub commands, as a user runs them: real processes,
real sockets on 127.0.0.1."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cli_helpers import _ENV, REPO_ROOT, ok, run, run_json


@contextmanager
def served(*args: str) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """``ssbmoney ARGS`` (a serve command) running; yields its URL (its first line)."""
    proc = subprocess.Popen([sys.executable, "-m", "ssbmoney", *args], env=_ENV,
                            cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, stdin=subprocess.DEVNULL)
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:"), (url, proc.stderr and proc.stderr.read())
        yield url, proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _two_members(tmp_path: Path) -> tuple[Path, Path]:
    a, b = tmp_path / "a", tmp_path / "b"
    ok(a, "init", "--name", "Ana")
    ok(b, "init", "--name", "Bo")
    bo_id = ok(b, "whoami")["id"]
    invite = ok(a, "group", "create", "Flat", "--currency", "EUR", "--member", bo_id)["invite"]
    ok(b, "group", "join", invite)
    return a, b


def test_serve_then_sync_both_ways_and_the_state_hashes_agree(tmp_path: Path) -> None:
    a, b = _two_members(tmp_path)
    ok(a, "deposit", "50")
    ok(b, "deposit", "7.25")
    with served("--home", str(a), "serve", "--port", "0") as (url, proc):
        report = ok(b, "sync", url)
        assert report["received"] >= 2 and report["sent"] >= 1
        assert [p["ok"] for p in report["peers"]] == [True]
        assert report["groups"][0]["received"] == report["received"]
        again = ok(b, "sync", url)
        assert again["received"] == 0 and again["sent"] == 0
    assert ok(a, "status")["state_hash"] == ok(b, "status")["state_hash"]
    assert ok(a, "status")["balance"] == 5725
    assert proc.returncode == 0


def test_known_urls_are_remembered_invited_and_synced(tmp_path: Path) -> None:
    a, b = _two_members(tmp_path)
    with served("--home", str(a), "serve", "--port", "0") as (url, _):
        listed = ok(b, "group", "urls", "add", url)["urls"]
        assert listed == [{"url": url, "last_sync": None, "last_error": None}]
        report = ok(b, "sync")
        assert report["peers"][0]["url"] == url
        assert ok(b, "group", "urls", "list")["urls"][0]["last_sync"] is not None
        invite = ok(b, "group", "invite")["invite"]
    c = tmp_path / "c"
    ok(c, "init", "--name", "Cy")
    ok(c, "group", "join", invite)
    assert [u["url"] for u in ok(c, "group", "urls", "list")["urls"]] == [url]


def test_a_peer_that_cannot_be_reached_fails_with_exit_1(tmp_path: Path) -> None:
    a, b = _two_members(tmp_path)
    code, out, err = run_json(b, "sync", "http://127.0.0.1:9")
    assert code == 1
    assert out["peers"][0]["ok"] is False and "127.0.0.1:9" in out["error"]["message"]
    assert "Traceback" not in err
    code, _, err = run(b, "sync", "not a url")
    assert code == 2 and "http://HOST:PORT" in err
    code, _, err = run(b, "sync")
    assert code == 2 and "group urls add" in err


def test_a_pub_hosts_relays_and_needs_no_init(tmp_path: Path) -> None:
    a, b = _two_members(tmp_path)
    pub = tmp_path / "pub"
    ok(a, "deposit", "12")
    code = ok(a, "group", "pub-code")["code"]
    hosted = ok(pub, "pub", "host", code)
    assert hosted["group"] == ok(a, "group", "list")["groups"][0]["group"]
    with served("--home", str(pub), "pub", "serve", "--port", "0") as (url, _):
        ok(a, "sync", url)
        report = ok(b, "sync", url)
        assert report["received"] >= 3
        assert ok(a, "sync", url)["received"] == 1  # Bo's join, relayed
    assert ok(a, "status")["state_hash"] == ok(b, "status")["state_hash"]
    code_, _, err = run(tmp_path / "nothing", "pub", "serve", "--port", "0")
    assert code_ == 2 and "pub host" in err


def test_a_stranger_is_refused_and_told_so(tmp_path: Path) -> None:
    a, _ = _two_members(tmp_path)
    eve = tmp_path / "eve"
    ok(eve, "init", "--name", "Eve")
    ok(eve, "group", "create", "Elsewhere", "--currency", "EUR")
    with served("--home", str(a), "serve", "--port", "0") as (url, _):
        code, out, _ = run_json(eve, "sync", url)
    assert code == 1 and "shares none" in out["peers"][0]["error"]


def test_sync_live_receives_without_a_new_sync_and_stops_cleanly(tmp_path: Path) -> None:
    a, b = _two_members(tmp_path)
    with served("--home", str(a), "serve", "--port", "0") as (url, _):
        live = subprocess.Popen(
            [sys.executable, "-m", "ssbmoney", "--home", str(b), "sync", url, "--live",
             "--json"], env=_ENV, cwd=REPO_ROOT, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True)
        try:
            time.sleep(1.5)
            ok(a, "deposit", "3")
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                if ok(b, "status")["balance"] == 300:
                    break
                time.sleep(0.2)
            assert ok(b, "status")["balance"] == 300
        finally:
            live.send_signal(signal.SIGINT)
            out, err = live.communicate(timeout=20)
    assert live.returncode == 0, err
    assert '"ok": true' in out


def test_a_url_can_be_removed_and_a_running_serve_follows_the_list(tmp_path: Path) -> None:
    a, b = _two_members(tmp_path)
    with served("--home", str(b), "serve", "--port", "0") as (b_url, _):
        with served("--home", str(a), "serve", "--port", "0") as (_, a_proc):
            ok(a, "group", "urls", "add", b_url)  # while A serves: it connects by itself
            ok(b, "deposit", "4")
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and ok(a, "status")["balance"] != 400:
                time.sleep(0.2)
            assert ok(a, "status")["balance"] == 400
        assert a_proc.returncode == 0
    assert ok(a, "group", "urls", "remove", b_url)["urls"] == []
    code, _, err = run(a, "group", "urls", "remove", b_url)
    assert code == 2 and "not among" in err


def test_a_mistyped_pub_code_is_refused(tmp_path: Path) -> None:
    a, _ = _two_members(tmp_path)
    code = ok(a, "group", "pub-code")["code"]
    typo = code[:30] + ("A" if code[30] != "A" else "B") + code[31:]
    status, _, err = run(tmp_path / "pub", "pub", "host", typo)
    assert status == 2 and "damaged" in err
    invite = ok(a, "group", "invite")["invite"]
    status, _, err = run(tmp_path / "pub", "pub", "host", invite)
    assert status == 2 and "this is an invite" in err


def test_a_sync_killed_halfway_resumes_and_completes(tmp_path: Path) -> None:
    import signal as sig

    from ssbmoney.app.home import Home
    from ssbmoney.core import content as msg

    a, b = _two_members(tmp_path)
    ana = Home(a)
    info = ana.groups()[0]
    for _ in range(30):
        ana.post(info, [msg.Deposit(1, "x" * 200)] * 1000)
    log = b / "groups" / info.id.hex() / "entries.log"
    start = log.stat().st_size
    with served("--home", str(a), "serve", "--port", "0") as (url, _):
        proc = subprocess.Popen([sys.executable, "-m", "ssbmoney", "--home", str(b), "sync",
                                 url], env=_ENV, cwd=REPO_ROOT, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while log.stat().st_size == start and time.monotonic() < deadline:
            time.sleep(0.005)
        proc.send_signal(sig.SIGKILL)
        proc.wait()
        halfway = log.stat().st_size
        report = ok(b, "sync", url)
    assert halfway > start
    assert 0 < report["received"] < 30_002  # only what the killed sync had not stored
    assert ok(a, "status")["state_hash"] == ok(b, "status")["state_hash"]
