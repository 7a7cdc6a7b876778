"""Regression tests for the review's findings on edges: dates, invites, names,
amounts and the first-use surface of the command line.

Where a finding is about the command line, the test runs real subprocesses
(``python -m ssbmoney``) on real temporary homes; otherwise it is a unit test.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_helpers import ok, run, run_json, snapshot

from ssbmoney.core.errors import BadInput

# --------------------------------------------------------------------------- helpers


def _solo(tmp_path: Path, currency: str = "EUR") -> Path:
    home = tmp_path / "solo"
    ok(home, "init", "--name", "Ana")
    ok(home, "group", "create", "Pot", "--currency", currency)
    return home


def _refused(code: int, out: str, err: str) -> None:
    assert code == 2, (code, out, err)
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("ssbmoney: "), err


# ----------------------------------------------------------------- finding 8: dates


def test_finding_08_far_closing_date_is_refused_and_any_date_renders() -> None:
    from ssbmoney.app import dates

    assert dates.MIN_MS == 0
    assert dates.MAX_MS == 253_402_300_799_999  # 9999-12-31T23:59:59.999Z
    for text in (
        "9999-12-31T23:59:59-23:59",  # past year 9999 once in UTC
        "1970-01-01T00:00:00+01:00",  # before 1970 once in UTC
        "0001-01-01",
        "10000-01-01",
        "2025-13-01",
        "tomorrow",
        "9" * 5000,
    ):
        with pytest.raises(BadInput) as caught:
            dates.closes_ms(text)
        assert "\n" not in caught.value.message and len(caught.value.message) < 300
    assert dates.closes_ms(None) is None and dates.closes_ms(" ") is None
    assert dates.closes_ms("1970-01-01") == 0
    assert dates.closes_ms("2025-06-30T18:00+02:00") == 1_751_299_200_000
    assert dates.closes_ms("9999-12-31T23:59:59+23:59") is not None
    for ms in (-1, -(2**63), dates.MAX_MS + 1, 2**64 - 1, 2**200):
        assert dates.when(ms) == "(invalid time)"
    assert dates.when(None) == ""
    assert dates.when(0) == "1970-01-01 00:00"
    assert dates.when(dates.MAX_MS) == "9999-12-31 23:59"


def test_finding_08_far_closing_date_on_the_command_line(tmp_path: Path) -> None:
    home = _solo(tmp_path)
    before = snapshot(home)
    for closes in ("9999-12-31T23:59:59-23:59", "1969-12-31T23:59:59Z", "x" * 10_000):
        code, out, err = run(home, "propose", "--title", "t", "--amount", "1",
                             "--closes", closes)
        _refused(code, out, err)
        assert "closing time" in err and len(err) < 300
    assert snapshot(home) == before
    ok(home, "propose", "--title", "t", "--amount", "1", "--closes", "9999-12-31T23:59:59Z")
    code, out, err = run(home, "status")
    assert code == 0 and "Traceback" not in err


def test_finding_08_a_wrong_clock_writes_nothing(tmp_path: Path) -> None:
    from ssbmoney.app.home import Home

    home = _solo(tmp_path)
    info = Home(home).group()
    before = snapshot(home)
    for bad in (-1, 2**64 - 1):
        wrong = Home(home, clock=lambda bad=bad: bad)
        with pytest.raises(BadInput, match="clock"):
            wrong.post(info, [])
        assert snapshot(home) == before


# -------------------------------------------------------------- finding 12: amounts


def test_finding_12_huge_amounts_are_bad_input_without_traceback(tmp_path: Path) -> None:
    from ssbmoney.core import money

    assert money.MAX_AMOUNT == money.MAX_JSON_INT == 2**53 - 1
    assert money.format_amount(10**5000 + 7, "JPY") == "1" + "0" * 4999 + "7"
    assert money.format_amount(-(10**5000), "EUR").startswith("-1000")
    home = _solo(tmp_path)
    before = snapshot(home)
    for amount in ("9" * 5000, "90071992547409.92", "1" + "0" * 30):
        code, out, err = run(home, "deposit", amount)
        _refused(code, out, err)
        assert "amount" in err and len(err) < 300
    code, out, err = run(home, "propose", "--title", "t", "--amount", "9" * 5000)
    _refused(code, out, err)
    assert snapshot(home) == before
    made = ok(home, "deposit", "90071992547409.91")
    assert made["amount"] == 2**53 - 1
    assert ok(home, "status")["balance"] == 2**53 - 1


# ------------------------------------------------------------- finding 10: invites


def test_finding_10_tampered_invite_is_refused_and_writes_nothing(tmp_path: Path) -> None:
    from ssbmoney.core.group import decode_invite, encode_invite

    alice, bob = tmp_path / "alice", tmp_path / "bob"
    ok(alice, "init", "--name", "Alice")
    code = ok(alice, "group", "create", "Pot", "--currency", "EUR", "--threshold", "60",
              "--block-vetoes", "no")["invite"]
    ok(bob, "init", "--name", "Bob")
    invite = decode_invite(code)
    assert (invite.name, invite.currency, invite.rules) == ("Pot", "EUR", (60, None, False))
    before = snapshot(bob)
    for tampered in (
        invite._replace(currency="JPY"),
        invite._replace(name="Pot (new rules)"),
        invite._replace(rules=(1, None, False)),
        invite._replace(signature=bytes(64)),
        invite._replace(signature=b""),
    ):
        code_out, out, err = run(bob, "group", "join", encode_invite(tampered))
        _refused(code_out, out, err)
        assert "altered" in err
        assert snapshot(bob) == before
    # A version 1 invite (before invites were signed) is refused, saying why.
    import base64

    import msgpack

    old = msgpack.packb([1, invite.keys.group_id, invite.keys.secret, invite.keys.founder,
                         "Pot", "JPY", []])
    old_code = "ssbm-invite:" + base64.urlsafe_b64encode(old).decode().rstrip("=")
    code_out, out, err = run(bob, "group", "join", old_code)
    _refused(code_out, out, err)
    assert "old invite" in err and snapshot(bob) == before
    # URLs are hints, not signed: another member's invite with its URLs still joins.
    hinted = encode_invite(invite._replace(urls=("http://127.0.0.1:9",)))
    assert ok(bob, "group", "join", hinted)["group"] == invite.keys.group_id.hex()
    assert ok(bob, "deposit", "12.5")["amount"] == 1250  # in the signed currency, EUR
    again = decode_invite(ok(bob, "group", "invite")["invite"])  # re-issued by a member
    assert again.signature == invite.signature
    assert (again.name, again.currency, again.rules) == ("Pot", "EUR", (60, None, False))
    group_file = json.loads(next((bob / "groups").glob("*/group.json")).read_text())
    assert group_file["rules"] == [60, None, False] and group_file["invite_sig"]


# -------------------------------------------------- finding 11: names, no half writes


def test_finding_11_refused_names_and_groups_write_nothing(tmp_path: Path) -> None:
    import base64

    from ssbmoney.core.group import encode_invite
    from ssbmoney.core.keys import keypair

    home = tmp_path / "home"
    for bad in ("Ana\x07", "An\x1b[31ma", "A\nB", "A" * 201):
        code, out, err = run(home, "init", "--name", bad)
        _refused(code, out, err)
        assert "name" in err
        assert snapshot(home) == {}
    # An identity an older version accepted: every group create or join is refused
    # before anything is written.
    keys = keypair(bytes(range(32)))
    home.mkdir()
    (home / "identity.json").write_text(json.dumps(
        {"name": "Ana\x07", "seed": base64.b64encode(keys.seed).decode(), "id": keys.id}))
    before = snapshot(home)
    code, out, err = run(home, "group", "create", "Pot", "--currency", "EUR")
    _refused(code, out, err)
    assert snapshot(home) == before
    founder = tmp_path / "founder"
    ok(founder, "init", "--name", "Founder")
    invite = ok(founder, "group", "create", "Pot", "--currency", "EUR")["invite"]
    code, out, err = run(home, "group", "join", invite)
    _refused(code, out, err)
    assert snapshot(home) == before
    # Other refusals write nothing either.
    fresh = tmp_path / "fresh"
    ok(fresh, "init", "--name", "Fresh")
    before = snapshot(fresh)
    for args in (
        ("group", "create", "Po\x07t", "--currency", "EUR"),
        ("group", "create", "Pot", "--currency", "EUR", "--member", "@nope.ed25519"),
        ("group", "create", "Pot", "--currency", "XXX"),
        ("group", "join", invite[:-4]),
    ):
        code, out, err = run(fresh, *args)
        _refused(code, out, err)
        assert snapshot(fresh) == before, args
    from ssbmoney.app.home import Home
    from ssbmoney.core.group import decode_invite

    for clock in (-5, 2**64 - 1):
        with pytest.raises(BadInput, match="clock"):
            Home(fresh, clock=lambda clock=clock: clock).join_group(decode_invite(invite))
        with pytest.raises(BadInput, match="clock"):
            Home(fresh, clock=lambda clock=clock: clock).create_group("Pot", "EUR")
        assert snapshot(fresh) == before
    assert encode_invite(decode_invite(invite)) == invite


# ------------------------------------------------------------ new users' first steps


def test_new_user_version_help_examples_and_counted_words(tmp_path: Path) -> None:
    import importlib.metadata

    try:
        expected = importlib.metadata.version("ssbmoney")
    except importlib.metadata.PackageNotFoundError:
        expected = "0.2.0"
    code, out, err = run(tmp_path / "h", "--version")
    assert (code, out.strip(), err) == (0, f"ssbmoney {expected}", "")
    code, made, err = run_json(tmp_path / "h", "--version")
    assert code == 0 and made == {"version": expected}
    assert not (tmp_path / "h").exists()
    code, out, err = run(tmp_path / "h", "--help")
    assert code == 0 and "examples:" in out and "ssbmoney init --name" in out
    for command in (("propose",), ("deposit",), ("group", "create"), ("vote",)):
        code, out, err = run(tmp_path / "h", *command, "--help")
        assert code == 0 and "example" in out and f"ssbmoney {' '.join(command)} " in out
    home = _solo(tmp_path)
    ok(home, "deposit", "5")
    code, out, err = run(home, "reindex")
    assert code == 0 and "index of 1 group\n" in out, out
    for text in (out, run(home, "export", "--out", str(tmp_path / "x"))[1]):
        assert not any(f"1 {word}" in text for word in ("feeds", "entries", "groups")), text


def test_new_user_tui_without_a_terminal_refuses_instead_of_hanging(tmp_path: Path) -> None:
    home = _solo(tmp_path)
    for args in ((), ("tui",)):
        code, out, err = run(home, *args)  # stdout is a pipe: not a terminal
        _refused(code, out, err)
        assert "terminal" in err
    code, made, err = run_json(home, "tui")
    assert code == 2 and made["error"]["kind"] and "terminal" in made["error"]["message"]


def test_new_user_propose_without_amount_says_what_is_missing(tmp_path: Path) -> None:
    home = _solo(tmp_path)
    before = snapshot(home)
    code, out, err = run(home, "propose", "--title", "Kettle")
    _refused(code, out, err)
    assert "--amount" in err and "--add-member" in err
    assert snapshot(home) == before
