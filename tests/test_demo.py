"""The shipped demo group (feeds/demo): reproducible, valid, and showing what it claims."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from ssbmoney.app import audit as audit_mod
from ssbmoney.app.home import Home
from ssbmoney.core import content as msg
from ssbmoney.core.entry import Entry, entry_id
from ssbmoney.core.errors import BadInput
from ssbmoney.core.group import decode_invite, open_sealed
from ssbmoney.core.keys import keypair
from ssbmoney.core.ledger import Ledger
from ssbmoney.demo.generate import NAMES, generate, make_home, member_seed

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "feeds" / "demo"
INVITE = (DEMO / "invite.txt").read_text().strip()


def _files(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def _cli(*args: str) -> tuple[int, dict[str, Any]]:
    done = subprocess.run(
        [sys.executable, "-m", "ssbmoney", *args],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )
    return done.returncode, json.loads(done.stdout)


def _entries() -> list[Entry]:
    (data,) = audit_mod.collect(DEMO)
    assert data.group == decode_invite(INVITE).keys.group_id and not data.errors
    return [e for items in data.feeds.values() for e in items]


@pytest.fixture(scope="module")
def ledger() -> Ledger:
    invite = decode_invite(INVITE)
    return Ledger(invite.keys, invite.currency).add_all(_entries())


@pytest.fixture(scope="module")
def feeds() -> dict[bytes, list[tuple[Entry, msg.Message]]]:
    """Each feed's entries with their opened messages, in sequence order."""
    key = decode_invite(INVITE).keys.content_key
    out: dict[bytes, list[tuple[Entry, msg.Message]]] = {}
    for item in sorted(_entries(), key=lambda e: (e.author, e.seq)):
        assert item.content is not None
        plain = open_sealed(key, item.content)
        assert plain is not None
        out.setdefault(item.author, []).append((item, msg.parse(plain)))
    return out


@pytest.fixture(scope="module")
def audit_report() -> dict[str, Any]:
    code, report = _cli("audit", str(DEMO), "--invite", INVITE, "--json")
    assert code == 0, report
    return report


def test_shipped_demo_is_what_the_generator_makes(tmp_path: Path) -> None:
    made = generate(tmp_path / "demo")
    want, got = _files(DEMO), _files(tmp_path / "demo")
    assert sorted(got) == sorted(want), "regenerate with scripts/gen_demo"
    changed = [name for name in want if want[name] != got[name]]
    assert not changed, f"differs from the generator: {changed}; run scripts/gen_demo"
    assert made["invite"] == INVITE
    assert made["feeds"] == len(NAMES)


def test_audit_of_the_demo_is_valid(audit_report: dict[str, Any], ledger: Ledger) -> None:
    assert audit_report["valid"] is True
    assert audit_report["errors"] == [] and audit_report["forks"] == []
    assert audit_report["feeds"] == len(NAMES)
    assert audit_report["entries"] == ledger.view()["entries"]
    state = audit_report["state_hash"]
    assert isinstance(state, str) and len(state) == 64 and int(state, 16) >= 0
    assert state == ledger.view()["state_hash"]
    assert state in (DEMO / "README.md").read_text()


def test_demo_members_and_keys(ledger: Ledger) -> None:
    view = ledger.view()
    assert view["name"] and view["currency"] == "EUR"
    assert sorted(view["member_names"].values()) == sorted(NAMES)
    for name in NAMES:
        data = json.loads((DEMO / "members" / f"{name.lower()}.json").read_text())
        keys = keypair(member_seed(name))
        assert data["name"] == name and data["id"] == keys.id
        assert "DEMO ONLY" in data["demo_only"]
        assert keys.id in view["members"]


def test_demo_has_the_features_it_promises(
    ledger: Ledger, feeds: dict[bytes, list[tuple[Entry, msg.Message]]]
) -> None:
    view = ledger.view()
    rules = view["rules"]
    rows = view["proposals"]
    by_status = Counter(p["status"] for p in rows)
    assert by_status["approved"] >= 3 and by_status["open"] >= 1

    titles = {p["title"]: p for p in rows if p["status"] == "approved"}
    assert any("wages" in t.lower() for t in titles)
    assert any("server" in t.lower() for t in titles)
    assert any("train" in t.lower() or "travel" in t.lower() for t in titles)

    def closed_rejected(p: dict[str, Any]) -> bool:
        return p["status"] == "rejected" and not p["withdrawn"]

    assert any(closed_rejected(p) and p["block"] == 0 and p["no"] > p["yes"] for p in rows)
    vetoed = [
        p for p in rows
        if closed_rejected(p) and p["block"] > 0
        and p["yes"] * 100 >= rules["threshold"] * (p["yes"] + p["no"])
    ]
    assert vetoed, "a proposal a majority wanted, vetoed by a block"
    assert any(p["withdrawn"] and p["status"] == "rejected" for p in rows)
    assert any(p["status"] == "open" and p["yes"] + p["no"] + p["abstain"] > 0 for p in rows)
    assert any(p["abstain"] > 0 for p in rows)

    kinds = Counter(w["kind"] for w in view["warnings"])
    assert kinds["late_vote"] >= 1 and kinds["overspend"] >= 1
    assert set(kinds) <= {"late_vote", "overspend"}
    over = next(w["entry"] for w in view["warnings"] if w["kind"] == "overspend")
    spends = {
        entry_id(e.id): m for items in feeds.values() for e, m in items
        if isinstance(m, msg.Spend)
    }
    target = next(p for p in rows if p["id"] == entry_id(spends[over].proposal))
    assert target["status"] == "approved" and target["spent"] > target["amount"]


def test_demo_history_shapes(
    ledger: Ledger, feeds: dict[bytes, list[tuple[Entry, msg.Message]]]
) -> None:
    """Reversal, a changed vote, closes on different cuts, plausible times."""
    reversed_deposits = changed_votes = live_deposits = 0
    cuts = []
    for items in feeds.values():
        messages = {e.id: m for e, m in items}
        reversed_ids = {m.target for m in messages.values() if isinstance(m, msg.Reverse)}
        for target in reversed_ids:
            assert isinstance(messages[target], msg.Deposit)
        reversed_deposits += len(reversed_ids)
        live_deposits += sum(m.amount for eid, m in messages.items()
                             if isinstance(m, msg.Deposit) and eid not in reversed_ids)
        cuts += [m.cut for m in messages.values() if isinstance(m, msg.Close)]
        choices: dict[bytes, set[str]] = {}
        for m in messages.values():
            if isinstance(m, msg.Vote):
                choices.setdefault(m.proposal, set()).add(m.choice)
        changed_votes += sum(1 for c in choices.values() if len(c) > 1)
    assert reversed_deposits >= 1 and changed_votes >= 1
    assert len(cuts) >= 4 and len(set(cuts)) == len(cuts), "closes name different cuts"
    assert ledger.view()["deposited"] == live_deposits

    start = dt.datetime(2025, 3, 1, tzinfo=dt.UTC).timestamp() * 1000
    end = dt.datetime(2025, 4, 1, tzinfo=dt.UTC).timestamp() * 1000
    stamps = [e.claimed_ms for items in feeds.values() for e, _m in items]
    assert all(start <= s < end for s in stamps)
    for items in feeds.values():  # each member's clock runs forward
        assert [e.claimed_ms for e, _m in items] == sorted(e.claimed_ms for e, _m in items)


def test_demo_money_adds_up(ledger: Ledger) -> None:
    view = ledger.view()
    assert view["balance"] == view["deposited"] - view["spent"]
    assert view["spent"] == sum(p["spent"] for p in view["proposals"])
    assert view["committed"] == sum(
        max(0, p["amount"] - p["spent"]) for p in view["proposals"] if p["status"] == "approved"
    )
    assert view["committed"] > 0
    assert view["available"] == view["balance"] - view["committed"]


def test_make_home_for_two_members_matches_the_audit(
    tmp_path: Path, audit_report: dict[str, Any]
) -> None:
    entries = audit_report["entries"]
    for member in ("ana", "Eli"):
        home_dir = tmp_path / member
        make_home(DEMO, home_dir, member)
        home = Home(home_dir)
        assert home.identity().keys.seed == member_seed(member.capitalize())
        (info,) = home.groups()
        with home.store(info) as store:
            assert store.count() == entries, "joining must not write a new entry"
        assert home.ledger(info).view()["state_hash"] == audit_report["state_hash"]

    code, status = _cli("--home", str(tmp_path / "ana"), "status", "--json")
    assert code == 0
    assert status["state_hash"] == audit_report["state_hash"]
    assert status["group"] == decode_invite(INVITE).keys.group_id.hex()
    assert any(p["status"] == "open" for p in status["proposals"])


def test_make_home_keeps_an_existing_demo_home(tmp_path: Path) -> None:
    home_dir = tmp_path / "home"
    make_home(DEMO, home_dir, "bea")
    home = Home(home_dir)
    (info,) = home.groups()
    with home.store(info) as store:
        open_row = next(p for p in home.ledger(info, store).view()["proposals"]
                        if p["status"] == "open" and p["yes"] == 1)
    code, _voted = _cli("--home", str(home_dir), "vote", open_row["id"][:12], "no", "--json")
    assert code == 0
    before = _files(home_dir / "groups")
    make_home(DEMO, home_dir, "bea")  # again: the user's vote stays
    assert _files(home_dir / "groups") == before
    with pytest.raises(BadInput):
        make_home(DEMO, home_dir, "cem")
    with pytest.raises(BadInput):
        make_home(DEMO, tmp_path / "nobody", "zed")
