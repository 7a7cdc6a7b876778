"""End-to-end tests of the command line against the outside contract (CONTRACT.md).

Every command runs as a real subprocess (``python -m ssbmoney --home DIR``) on
real temporary homes; nothing is mocked. Set-up that many tests read is shared by
module-scoped fixtures, and tests that change a home work on a ``shutil.copytree``
copy, so the shared homes stay as the fixtures left them.

* ``world``: three homes. Alice founds a EUR group naming Bob as a member (with
  ``--threshold``, ``--quorum``, ``--block-vetoes``); Bob and Carol join with the
  invite (Carol is not a member: her entries are flagged, not counted). They deposit,
  propose, vote, close, spend, withdraw and reverse, carrying feeds between homes
  with ``export --out`` / ``import`` only. All three end with the same state hash.
* ``solo``: one member, one EUR group with an open, an approved (partly spent) and a
  rejected proposal: the target of the bad-input cases.
* ``multi``: one home, a JPY and a BHD group (currency exponents 0 and 3).
"""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import REPO_ROOT, ok, one_json, run, run_json, snapshot

from ssbmoney.app.home import Home
from ssbmoney.core import entry as entry_mod
from ssbmoney.core import framing
from ssbmoney.core.entry import entry_id, feed_id

CHOICES = ("yes", "no", "abstain", "block")
STATUS_FIELDS = {"group", "currency", "balance", "deposited", "spent", "committed",
                 "available", "members", "proposals", "warnings", "state_hash"}
PROPOSAL_FIELDS = {"id", "title", "amount", "status", "yes", "no", "abstain", "block",
                   "spent"}
AUDIT_FIELDS = {"valid", "feeds", "entries", "errors", "forks", "state_hash"}


# --------------------------------------------------------------------------- helpers


def is_int(value: Any) -> bool:
    return type(value) is int


def no_floats(value: Any, where: str = "$") -> None:
    """Money is integers end to end: no float anywhere in a JSON answer."""
    assert not isinstance(value, float), f"float at {where}: {value!r}"
    if isinstance(value, dict):
        for key, item in value.items():
            no_floats(item, f"{where}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            no_floats(item, f"{where}[{index}]")


def check_status(view: dict[str, Any]) -> None:
    """Shape and relations every ``status --json`` must satisfy."""
    assert STATUS_FIELDS <= set(view), STATUS_FIELDS - set(view)
    for key in ("balance", "deposited", "spent", "committed", "available"):
        assert is_int(view[key]), (key, view[key])
    assert view["balance"] == view["deposited"] - view["spent"]
    assert view["available"] == view["balance"] - view["committed"]
    assert view["members"] == sorted(view["members"])
    assert all(isinstance(m, str) and m.startswith("@") for m in view["members"])
    committed = 0
    for p in view["proposals"]:
        assert PROPOSAL_FIELDS <= set(p), PROPOSAL_FIELDS - set(p)
        assert p["status"] in ("open", "approved", "rejected")
        for key in ("amount", "spent", *CHOICES):
            assert is_int(p[key]), (key, p[key])
        if p["status"] == "approved":
            committed += max(0, p["amount"] - p["spent"])
    assert view["committed"] == committed
    for w in view["warnings"]:
        assert isinstance(w, dict) and isinstance(w.get("kind"), str)
        assert ("entry" in w) or ("feed" in w), w
    assert re.fullmatch(r"[0-9a-f]{16,}", view["state_hash"]), view["state_hash"]
    no_floats(view)


def check_audit(report: dict[str, Any]) -> None:
    assert AUDIT_FIELDS <= set(report), AUDIT_FIELDS - set(report)
    assert isinstance(report["valid"], bool)
    assert is_int(report["feeds"]) and is_int(report["entries"])
    assert isinstance(report["errors"], list) and isinstance(report["forks"], list)


def proposal(view: dict[str, Any], pid: str) -> dict[str, Any]:
    (found,) = [p for p in view["proposals"] if p["id"] == pid]
    return found


def copy_home(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst, symlinks=True)
    return dst


def group_dir(home: Path) -> Path:
    (only,) = [d for d in (home / "groups").iterdir() if d.is_dir()]
    return only


def unique_prefix(ids: list[str], target: str) -> str:
    """The shortest prefix (after the ``%``) of ``target`` that no other id shares."""
    for length in range(2, len(target) + 1):
        prefix = target[:length]
        if [i for i in ids if i.startswith(prefix)] == [target]:
            return prefix[1:]
    raise AssertionError("ids are not unique")


def read_frames(path: Path) -> list[bytes]:
    data = path.read_bytes()
    assert data.startswith(framing.LOG_MAGIC)
    assert framing.good_end(data, framing.MAGIC_SIZE) == len(data)
    return [payload for _offset, payload in framing.scan(data, framing.MAGIC_SIZE)]


def write_frames(path: Path, payloads: list[bytes]) -> None:
    path.write_bytes(framing.LOG_MAGIC + b"".join(framing.frame(p) for p in payloads))


# --------------------------------------------------------------------------- world


@dataclass
class World:
    root: Path
    a: Path
    b: Path
    c: Path
    ids: dict[str, str] = field(default_factory=dict)
    r: dict[str, dict[str, Any]] = field(default_factory=dict)
    group: str = ""
    invite: str = ""
    tent: str = ""
    boat: str = ""
    snacks: str = ""
    status: dict[str, dict[str, Any]] = field(default_factory=dict)
    imports: list[dict[str, Any]] = field(default_factory=list)
    exports: list[dict[str, Any]] = field(default_factory=list)
    final_export: Path = Path()
    final_export_counts: dict[str, Any] = field(default_factory=dict)
    _n: int = 0

    def carry(self, src: Path, dst: Path) -> dict[str, Any]:
        """Carry src's feeds to dst the USB-stick way: export, then import."""
        self._n += 1
        out = self.root / f"carry{self._n}"
        exported = ok(src, "export", "--out", str(out))
        self.exports.append(exported)
        imported = ok(dst, "import", str(out))
        self.imports.append(imported)
        return imported


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    root = tmp_path_factory.mktemp("world")
    w = World(root, root / "alice", root / "bob", root / "carol")
    r = w.r
    r["init_a"] = ok(w.a, "init", "--name", "Alice")
    r["init_b"] = ok(w.b, "init", "--name", "Bob")
    r["init_c"] = ok(w.c, "init", "--name", "Carol")
    r["whoami_a"] = ok(w.a, "whoami")
    r["whoami_b"] = ok(w.b, "whoami")
    w.ids = {"a": r["init_a"]["id"], "b": r["init_b"]["id"], "c": r["init_c"]["id"]}

    r["create"] = ok(w.a, "group", "create", "Trip", "--currency", "EUR",
                     "--member", w.ids["b"], "--threshold", "60", "--quorum", "2",
                     "--block-vetoes", "yes")
    w.group, w.invite = r["create"]["group"], r["create"]["invite"]
    r["join_b"] = ok(w.b, "group", "join", w.invite)
    r["join_c"] = ok(w.c, "group", "join", w.invite)
    r["list_a"] = ok(w.a, "group", "list")
    r["list_b"] = ok(w.b, "group", "list")

    r["deposit_a"] = ok(w.a, "deposit", "100", "--note", "kitty")
    r["deposit_b"] = ok(w.b, "deposit", "20.5")
    r["deposit_c"] = ok(w.c, "deposit", "7")  # Carol is no member: flagged, not counted
    r["propose_tent"] = ok(w.a, "propose", "--title", "Tent", "--amount", "60",
                           "--payee", "Shop", "--category", "gear",
                           "--closes", "2030-01-01T12:00:00+00:00")
    r["propose_boat"] = ok(w.a, "propose", "--title", "Boat", "--amount", "500")
    r["propose_snacks"] = ok(w.b, "propose", "--title", "Snacks", "--amount", "5")
    w.tent = r["propose_tent"]["proposal"]
    w.boat = r["propose_boat"]["proposal"]
    w.snacks = r["propose_snacks"]["proposal"]
    r["vote_a_tent"] = ok(w.a, "vote", w.tent, "yes")
    r["vote_a_boat"] = ok(w.a, "vote", w.boat, "yes")

    w.carry(w.a, w.b)
    w.carry(w.b, w.a)
    r["status_b_mid"] = ok(w.b, "status")
    tent_prefix = unique_prefix([p["id"] for p in r["status_b_mid"]["proposals"]], w.tent)
    r["vote_b_tent"] = ok(w.b, "vote", tent_prefix, "yes", "--comment", "fine")
    r["vote_b_boat_first"] = ok(w.b, "vote", w.boat, "no")
    r["vote_b_boat"] = ok(w.b, "vote", w.boat, "block")  # replaces the "no"
    w.carry(w.b, w.a)

    r["close_tent"] = ok(w.a, "close", w.tent)
    r["close_boat"] = ok(w.a, "close", w.boat)
    r["spend"] = ok(w.a, "spend", w.tent, "--amount", "45.50", "--payee", "Shop",
                    "--note", "tent")
    r["deposit_a2"] = ok(w.a, "deposit", "1")
    r["reverse"] = ok(w.a, "reverse", r["deposit_a2"]["entry"], "--note", "typo")
    r["withdraw"] = ok(w.b, "withdraw", w.snacks)
    # Bob has not seen Alice's close yet: his vote is accepted here, late there.
    r["late_vote"] = ok(w.b, "vote", w.tent, "abstain")

    for src, dst in ((w.a, w.b), (w.b, w.a), (w.c, w.a), (w.a, w.b), (w.a, w.c)):
        w.carry(src, dst)
    for key, home in (("a", w.a), ("b", w.b), ("c", w.c)):
        w.status[key] = ok(home, "status")
    w.final_export = root / "final_export"
    w.final_export_counts = ok(w.a, "export", "--out", str(w.final_export))
    return w


# ----------------------------------------------------------------- 1. happy paths


def test_identity_commands(world: World) -> None:
    r = world.r
    for key in ("a", "b", "c"):
        assert re.fullmatch(r"@[A-Za-z0-9+/]{43}=\.ed25519", world.ids[key])
    assert r["whoami_a"]["id"] == world.ids["a"] and r["whoami_a"]["name"] == "Alice"
    assert r["whoami_b"]["id"] == world.ids["b"] and r["whoami_b"]["name"] == "Bob"
    assert len(set(world.ids.values())) == 3


def test_whoami_text_mode(world: World) -> None:
    code, out, err = run(world.a, "whoami")
    assert code == 0 and err == ""
    assert world.ids["a"] in out and "Alice" in out


def test_group_create_join_list(world: World) -> None:
    r = world.r
    assert re.fullmatch(r"[0-9a-f]{64}", world.group)
    assert isinstance(world.invite, str) and world.invite
    assert r["join_b"]["group"] == world.group
    assert r["join_c"]["group"] == world.group
    for key in ("list_a", "list_b"):
        groups = r[key]["groups"]
        assert [(g["group"], g["name"]) for g in groups] == [(world.group, "Trip")]


def test_group_rules_and_members_from_create(world: World) -> None:
    view = world.status["a"]
    assert view["group"] == world.group and view["currency"] == "EUR"
    # Founder and --member are members; Carol (invite only) is not.
    assert view["members"] == sorted([world.ids["a"], world.ids["b"]])


def test_entry_commands_report_entry_ids(world: World) -> None:
    r = world.r
    for key in ("deposit_a", "deposit_b", "deposit_c", "vote_a_tent", "vote_a_boat",
                "vote_b_tent", "vote_b_boat", "close_tent", "close_boat", "spend",
                "deposit_a2", "reverse", "withdraw", "late_vote"):
        assert re.fullmatch(r"%[A-Za-z0-9+/]{43}=\.sha256", r[key]["entry"]), key
    for key in ("propose_tent", "propose_boat", "propose_snacks"):
        assert re.fullmatch(r"%[A-Za-z0-9+/]{43}=\.sha256", r[key]["proposal"]), key
    entries = [r[k]["entry"] for k in r if "entry" in r[k]]
    assert len(entries) == len(set(entries))


def test_deposit_amounts_are_minor_units(world: World) -> None:
    # ``amount`` is more than the contract asks; where present it is minor units.
    assert world.r["deposit_a"].get("amount", 10000) == 10000
    assert world.r["deposit_b"].get("amount", 2050) == 2050
    assert world.r["spend"].get("amount", 4550) == 4550


def test_close_outcomes(world: World) -> None:
    tent, boat = world.r["close_tent"], world.r["close_boat"]
    assert tent["outcome"] == "approved"
    # The block vetoes the boat even though yes is 100% of yes + no.
    assert boat["outcome"] == "rejected"


def test_status_after_everything(world: World) -> None:
    view = world.status["a"]
    check_status(view)
    # Alice 100 + Bob 20.50 (Alice's 1 is reversed; Carol's 7 does not count).
    assert view["deposited"] == 12050
    assert view["spent"] == 4550
    assert view["balance"] == 7500
    assert view["committed"] == 6000 - 4550
    assert view["available"] == 7500 - 1450
    tent = proposal(view, world.tent)
    assert (tent["title"], tent["amount"], tent["status"]) == ("Tent", 6000, "approved")
    assert (tent["yes"], tent["no"], tent["abstain"], tent["block"]) == (2, 0, 0, 0)
    assert tent["spent"] == 4550
    boat = proposal(view, world.boat)
    assert (boat["status"], boat["amount"], boat["spent"]) == ("rejected", 50000, 0)
    # Bob's later vote (block) replaced his earlier one (no).
    assert (boat["yes"], boat["no"], boat["abstain"], boat["block"]) == (1, 0, 0, 1)
    snacks = proposal(view, world.snacks)
    assert snacks["status"] == "rejected"  # withdrawn: never approved
    assert view["committed"] == sum(
        max(0, p["amount"] - p["spent"]) for p in view["proposals"] if p["status"] == "approved"
    )


def test_status_warnings(world: World) -> None:
    warnings = world.status["a"]["warnings"]
    assert {"kind": "non_member", "entry": world.r["deposit_c"]["entry"]} in warnings
    assert {"kind": "late_vote", "entry": world.r["late_vote"]["entry"]} in warnings


def test_members_converge_to_one_state_hash(world: World) -> None:
    hashes = {key: view["state_hash"] for key, view in world.status.items()}
    assert hashes["a"] == hashes["b"] == hashes["c"], hashes
    for view in world.status.values():
        check_status(view)
    assert world.status["a"]["proposals"] == world.status["b"]["proposals"]


def test_export_and_import_report_counts(world: World) -> None:
    for exported in [*world.exports, world.final_export_counts]:
        assert is_int(exported["feeds"]) and is_int(exported["entries"])
    assert world.final_export_counts["feeds"] == 3
    for imported in world.imports:
        assert is_int(imported["received"]) and imported["received"] >= 0
    assert world.imports[0]["received"] > 0


def test_import_twice_receives_nothing(world: World, tmp_path: Path) -> None:
    b = copy_home(world.b, tmp_path / "bob")
    assert ok(b, "import", str(world.final_export))["received"] == 0
    assert ok(b, "status")["state_hash"] == world.status["b"]["state_hash"]


@pytest.mark.parametrize("who", ["a", "b", "c"])
def test_audit_of_each_home_matches_status(world: World, who: str) -> None:
    home = {"a": world.a, "b": world.b, "c": world.c}[who]
    code, report, err = run_json(home, "audit", str(home))
    assert code == 0, report
    check_audit(report)
    assert report["valid"] is True and report["errors"] == [] and report["forks"] == []
    assert report["feeds"] == 3
    assert report["state_hash"] == world.status[who]["state_hash"]


def test_audit_of_an_export(world: World, tmp_path: Path) -> None:
    code, report, _err = run_json(world.a, "audit", str(world.final_export))
    assert code == 0
    check_audit(report)
    assert report["valid"] is True
    assert report["feeds"] == world.final_export_counts["feeds"]
    assert report["entries"] == world.final_export_counts["entries"]
    assert report["state_hash"] == world.status["a"]["state_hash"]
    # An outside auditor without a home: integrity only, unless given the invite.
    auditor = tmp_path / "auditor"
    code, report, _err = run_json(auditor, "audit", str(world.final_export))
    assert code == 0 and report["valid"] is True and report["state_hash"] is None
    code, report, _err = run_json(auditor, "audit", str(world.final_export),
                                  "--invite", world.invite)
    assert code == 0 and report["state_hash"] == world.status["a"]["state_hash"]
    assert snapshot(auditor) == {}


def test_audit_of_another_home(world: World) -> None:
    code, report, _err = run_json(world.a, "audit", str(world.b))
    assert code == 0 and report["valid"] is True
    assert report["state_hash"] == world.status["b"]["state_hash"]


def test_status_text_mode(world: World) -> None:
    code, out, err = run(world.a, "status")
    assert code == 0 and err == ""
    assert world.status["a"]["state_hash"] in out
    if "Tent" not in out:  # decided: listed with --all
        assert "decided" in out
        code, out, err = run(world.a, "status", "--all")
        assert code == 0 and "Tent" in out


# ------------------------------------------------------------------------- solo


@dataclass
class Solo:
    home: Path
    id: str
    group: str
    invite: str
    pub_code: str
    open: str
    approved: str
    closed: str
    deposit: str
    spend: str
    ambiguous: str
    export: Path
    status: dict[str, Any]


_AMBIGUOUS_SCRIPT = r"""
import contextlib, io, json, sys
from ssbmoney.launcher import main
home = sys.argv[1]
seen = {}
for n in range(300):
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = main(["--home", home, "propose", "--title", f"Filler {n}", "--amount", "1",
                     "--json"])
    assert code == 0, buf.getvalue()
    pid = json.loads(buf.getvalue())["proposal"]
    if pid[1] in seen:
        print(pid[1])
        break
    seen[pid[1]] = pid
else:
    raise SystemExit("no two proposal ids share a first character")
"""


@pytest.fixture(scope="module")
def solo(tmp_path_factory: pytest.TempPathFactory) -> Solo:
    root = tmp_path_factory.mktemp("solo")
    home = root / "home"
    me = ok(home, "init", "--name", "Sol")["id"]
    created = ok(home, "group", "create", "Solo", "--currency", "EUR")
    deposit = ok(home, "deposit", "100")["entry"]
    opened = ok(home, "propose", "--title", "Open", "--amount", "10")["proposal"]
    approved = ok(home, "propose", "--title", "Approved", "--amount", "30")["proposal"]
    ok(home, "vote", approved, "yes")
    assert ok(home, "close", approved)["outcome"] == "approved"
    spend = ok(home, "spend", approved, "--amount", "10")["entry"]
    closed = ok(home, "propose", "--title", "Closed", "--amount", "5")["proposal"]
    ok(home, "vote", closed, "no")
    assert ok(home, "close", closed)["outcome"] == "rejected"
    pub_code = ok(home, "group", "pub-code")["code"]
    # Fillers until two proposal ids share their first character after the "%".
    done = subprocess.run([sys.executable, "-c", _AMBIGUOUS_SCRIPT, str(home)],
                          capture_output=True, text=True, cwd=REPO_ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    ambiguous = done.stdout.strip()
    export = root / "export"
    ok(home, "export", "--out", str(export))
    status = ok(home, "status")
    return Solo(home, me, created["group"], created["invite"], pub_code, opened, approved,
                closed, deposit, spend, ambiguous, export, status)


@pytest.fixture(scope="module")
def multi(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("multi")
    home = root / "home"
    ok(home, "init", "--name", "Yuki")
    yen = ok(home, "group", "create", "Yen", "--currency", "JPY", "--block-vetoes", "no",
             "--threshold", "100", "--quorum", "1")["group"]
    dinar = ok(home, "group", "create", "Dinar", "--currency", "BHD")["group"]
    export = root / "export"
    ok(home, "export", "--out", str(export))
    return {"home": home, "yen": yen, "dinar": dinar, "export": export}


def test_solo_status(solo: Solo) -> None:
    view = solo.status
    check_status(view)
    assert view["members"] == [solo.id]
    assert proposal(view, solo.open)["status"] == "open"
    assert proposal(view, solo.approved)["status"] == "approved"
    assert proposal(view, solo.closed)["status"] == "rejected"
    assert (view["deposited"], view["spent"], view["balance"]) == (10000, 1000, 9000)
    assert view["committed"] == 2000 and view["available"] == 7000
    assert view["warnings"] == []


def test_good_amounts_in_eur(solo: Solo, tmp_path: Path) -> None:
    home = copy_home(solo.home, tmp_path / "home")
    for text in ("12", "12.5", "12.50"):
        ok(home, "deposit", text)
    view = ok(home, "status")
    assert view["deposited"] == solo.status["deposited"] + 1200 + 1250 + 1250
    pid = ok(home, "propose", "--title", "Half", "--amount", "12.5")["proposal"]
    assert proposal(ok(home, "status"), pid)["amount"] == 1250


def test_good_amounts_in_jpy_and_bhd(multi: dict[str, Any], tmp_path: Path) -> None:
    home = copy_home(multi["home"], tmp_path / "home")
    ok(home, "deposit", "1500", "--group", multi["yen"])
    ok(home, "deposit", "1.234", "--group", multi["dinar"])
    ok(home, "deposit", "2.5", "--group", multi["dinar"])
    yen = ok(home, "status", "--group", multi["yen"])
    dinar = ok(home, "status", "--group", multi["dinar"])
    assert (yen["currency"], yen["deposited"]) == ("JPY", 1500)
    assert (dinar["currency"], dinar["deposited"]) == ("BHD", 1234 + 2500)
    check_status(yen)
    check_status(dinar)
    listed = ok(home, "group", "list")["groups"]
    assert {(g["group"], g["name"]) for g in listed} == {(multi["yen"], "Yen"),
                                                         (multi["dinar"], "Dinar")}


@pytest.mark.parametrize("with_sigil", [False, True])
def test_unique_prefixes_work(solo: Solo, tmp_path: Path, with_sigil: bool) -> None:
    home = copy_home(solo.home, tmp_path / "home")
    ids = [p["id"] for p in solo.status["proposals"]]
    sigil = "%" if with_sigil else ""
    vote = ok(home, "vote", sigil + unique_prefix(ids, solo.open), "yes")
    assert vote["entry"].startswith("%")
    closed = ok(home, "close", sigil + unique_prefix(ids, solo.open))
    assert closed["outcome"] == "approved"
    ok(home, "spend", sigil + unique_prefix(ids, solo.approved), "--amount", "20")
    view = ok(home, "status")
    assert proposal(view, solo.approved)["spent"] == 3000
    assert proposal(view, solo.open)["status"] == "approved"
    assert proposal(view, solo.open)["yes"] == 1


def test_withdraw_and_reverse_by_prefix(solo: Solo, tmp_path: Path) -> None:
    home = copy_home(solo.home, tmp_path / "home")
    ids = [p["id"] for p in solo.status["proposals"]]
    withdrawn = ok(home, "withdraw", unique_prefix(ids, solo.open))
    assert withdrawn["entry"].startswith("%")
    reversed_ = ok(home, "reverse", solo.deposit[1:12])
    assert reversed_["entry"].startswith("%")
    view = ok(home, "status")
    assert proposal(view, solo.open)["status"] == "rejected"
    assert view["deposited"] == 0 and view["balance"] == -1000
    check_status(view)
    # Reversing it again is refused, and writes nothing.
    before = snapshot(home)
    code, answer, err = run_json(home, "reverse", solo.deposit)
    assert code == 2 and "error" in answer and len(err.strip().splitlines()) == 1
    assert snapshot(home) == before


def test_spend_up_to_exactly_the_approved_amount(solo: Solo, tmp_path: Path) -> None:
    home = copy_home(solo.home, tmp_path / "home")
    ok(home, "spend", solo.approved, "--amount", "20")
    view = ok(home, "status")
    assert proposal(view, solo.approved)["spent"] == 3000
    assert view["committed"] == 0 and view["warnings"] == []
    before = snapshot(home)
    code, answer, _err = run_json(home, "spend", solo.approved, "--amount", "0.01")
    assert code == 2 and set(answer) == {"error"}
    assert snapshot(home) == before


# ------------------------------------------------------------------- 3. bad input

AMOUNT = r"amount|decimal"
PROPOSAL = r"proposal"
IDENT = r"init|identity"
BEFORE_INIT = r"init|identity|no group"
INVITE = r"invite"
GROUP = r"group"

# (case id, home, args, what the message must name). Homes: "solo", "multi", "fresh"
# (does not exist), "blank" (init, no group). Placeholders come from ``context``.
BAD_CASES: list[tuple[str, str, list[str], str]] = [
    # identity
    ("init-over-identity", "solo", ["init", "--name", "Again"], IDENT),
    ("init-over-identity-blank", "blank", ["init", "--name", "Again"], IDENT),
    ("init-empty-name", "fresh", ["init", "--name", " "], r"name"),
    # before init
    ("before-init-whoami", "fresh", ["whoami"], IDENT),
    ("before-init-group-create", "fresh", ["group", "create", "G", "--currency", "EUR"], IDENT),
    ("before-init-group-join", "fresh", ["group", "join", "{invite}"], IDENT),
    ("before-init-deposit", "fresh", ["deposit", "5"], BEFORE_INIT),
    ("before-init-propose", "fresh", ["propose", "--title", "T", "--amount", "5"], BEFORE_INIT),
    ("before-init-vote", "fresh", ["vote", "{open}", "yes"], BEFORE_INIT),
    ("before-init-close", "fresh", ["close", "{open}"], BEFORE_INIT),
    ("before-init-spend", "fresh", ["spend", "{approved}", "--amount", "1"], BEFORE_INIT),
    ("before-init-withdraw", "fresh", ["withdraw", "{open}"], BEFORE_INIT),
    ("before-init-reverse", "fresh", ["reverse", "{deposit}"], BEFORE_INIT),
    ("before-init-status", "fresh", ["status"], BEFORE_INIT),
    ("before-init-export", "fresh", ["export", "--out", "{out}"], BEFORE_INIT),
    ("before-init-import", "fresh", ["import", "{solo_export}"], BEFORE_INIT),
    ("before-init-pub-code", "fresh", ["group", "pub-code"], BEFORE_INIT),
    # a home with an identity and no group
    ("no-group-status", "blank", ["status"], GROUP),
    ("no-group-deposit", "blank", ["deposit", "5"], GROUP),
    ("no-group-export", "blank", ["export", "--out", "{out}"], GROUP),
    # amounts
    ("amount-abc", "solo", ["deposit", "abc"], AMOUNT),
    ("amount-negative", "solo", ["deposit", "-5"], AMOUNT),
    ("amount-zero", "solo", ["deposit", "0"], AMOUNT),
    ("amount-zero-decimals", "solo", ["deposit", "0.00"], AMOUNT),
    ("amount-empty", "solo", ["deposit", ""], AMOUNT),
    ("amount-comma", "solo", ["deposit", "1,50"], AMOUNT),
    ("amount-exponent", "solo", ["deposit", "1e3"], AMOUNT),
    ("amount-eur-3-decimals", "solo", ["deposit", "1.234"], AMOUNT),
    ("amount-dot-only", "solo", ["deposit", "."], AMOUNT),
    ("propose-amount-abc", "solo", ["propose", "--title", "T", "--amount", "abc"], AMOUNT),
    ("propose-amount-zero", "solo", ["propose", "--title", "T", "--amount", "0"], AMOUNT),
    ("propose-amount-eur-3", "solo", ["propose", "--title", "T", "--amount", "1.234"], AMOUNT),
    ("spend-amount-negative", "solo", ["spend", "{approved}", "--amount", "-5"], AMOUNT),
    ("spend-amount-zero", "solo", ["spend", "{approved}", "--amount", "0"], AMOUNT),
    ("spend-amount-eur-3", "solo", ["spend", "{approved}", "--amount", "1.234"], AMOUNT),
    ("amount-jpy-decimal", "multi", ["deposit", "1.5", "--group", "{yen}"], AMOUNT),
    ("propose-jpy-decimal", "multi",
     ["propose", "--title", "T", "--amount", "1.5", "--group", "{yen}"], AMOUNT),
    ("amount-bhd-4-decimals", "multi", ["deposit", "1.2345", "--group", "{dinar}"], AMOUNT),
    # proposal ids
    ("vote-unknown-id", "solo", ["vote", "%zz!!", "yes"], PROPOSAL),
    ("vote-unknown-id-no-sigil", "solo", ["vote", "zz!!", "yes"], PROPOSAL),
    ("close-unknown-id", "solo", ["close", "zz!!"], PROPOSAL),
    ("spend-unknown-id", "solo", ["spend", "zz!!", "--amount", "1"], PROPOSAL),
    ("withdraw-unknown-id", "solo", ["withdraw", "zz!!"], PROPOSAL),
    ("reverse-unknown-id", "solo", ["reverse", "zz!!"], r"zz!!"),
    ("vote-empty-id", "solo", ["vote", "", "yes"], PROPOSAL),
    ("vote-ambiguous-sigil", "solo", ["vote", "%", "yes"], PROPOSAL),
    ("vote-ambiguous-prefix", "solo", ["vote", "{ambiguous}", "yes"], PROPOSAL),
    ("vote-ambiguous-prefix-sigil", "solo", ["vote", "%{ambiguous}", "yes"], PROPOSAL),
    ("close-ambiguous", "solo", ["close", "{ambiguous}"], PROPOSAL),
    ("spend-ambiguous", "solo", ["spend", "%", "--amount", "1"], PROPOSAL),
    ("withdraw-ambiguous", "solo", ["withdraw", "%{ambiguous}"], PROPOSAL),
    ("reverse-ambiguous", "solo", ["reverse", "%"], r"%"),
    # votes and closes
    ("vote-word-maybe", "solo", ["vote", "{open}", "maybe"], r"maybe|yes"),
    ("vote-word-typo", "solo", ["vote", "{open}", "yess"], r"yess|yes"),
    ("vote-word-empty", "solo", ["vote", "{open}", ""], r"yes"),
    ("vote-word-number", "solo", ["vote", "{open}", "1"], r"yes"),
    ("vote-on-rejected", "solo", ["vote", "{closed}", "yes"], r"rejected|closed"),
    ("vote-on-approved", "solo", ["vote", "{approved}", "no"], r"approved|closed"),
    ("close-closed", "solo", ["close", "{closed}"], r"rejected|closed"),
    ("close-approved", "solo", ["close", "{approved}"], r"approved|closed"),
    ("withdraw-approved", "solo", ["withdraw", "{approved}"], r"approved|open"),
    # spends
    ("spend-open", "solo", ["spend", "{open}", "--amount", "1"], r"approved"),
    ("spend-rejected", "solo", ["spend", "{closed}", "--amount", "1"], r"approved"),
    ("spend-over-left", "solo", ["spend", "{approved}", "--amount", "20.01"], r"20|approved"),
    ("spend-over-amount", "solo", ["spend", "{approved}", "--amount", "1000"], r"approved"),
    # invites
    ("join-random-text", "solo", ["group", "join", "hello world"], INVITE),
    ("join-truncated-invite", "solo", ["group", "join", "{invite_truncated}"], INVITE),
    ("join-invite-prefix-only", "solo", ["group", "join", "ssbm-invite:"], INVITE),
    ("join-pub-code", "solo", ["group", "join", "{pub_code}"], INVITE),
    ("audit-garbage-invite", "solo", ["audit", "{solo_export}", "--invite", "xyz"], INVITE),
    # group create
    ("threshold-0", "solo", ["group", "create", "G", "--currency", "EUR", "--threshold", "0"],
     r"threshold"),
    ("threshold-101", "solo",
     ["group", "create", "G", "--currency", "EUR", "--threshold", "101"], r"threshold"),
    ("threshold-x", "solo", ["group", "create", "G", "--currency", "EUR", "--threshold", "x"],
     r"threshold"),
    ("threshold-decimal", "solo",
     ["group", "create", "G", "--currency", "EUR", "--threshold", "50.5"], r"threshold"),
    ("quorum-0", "solo", ["group", "create", "G", "--currency", "EUR", "--quorum", "0"],
     r"quorum"),
    ("quorum-x", "solo", ["group", "create", "G", "--currency", "EUR", "--quorum", "x"],
     r"quorum"),
    ("quorum-over-members", "solo",
     ["group", "create", "G", "--currency", "EUR", "--member", "{member}", "--quorum", "3"],
     r"quorum"),
    ("block-vetoes-maybe", "solo",
     ["group", "create", "G", "--currency", "EUR", "--block-vetoes", "maybe"], r"block"),
    ("member-word", "solo", ["group", "create", "G", "--currency", "EUR", "--member", "bob"],
     r"member|id"),
    ("member-short-key", "solo",
     ["group", "create", "G", "--currency", "EUR", "--member", "@abc.ed25519"], r"member|id"),
    ("member-entry-id", "solo",
     ["group", "create", "G", "--currency", "EUR", "--member", "{deposit}"], r"member|id"),
    ("member-no-sigil", "solo",
     ["group", "create", "G", "--currency", "EUR", "--member", "{member_bare}"], r"member|id"),
    ("currency-long", "solo", ["group", "create", "G", "--currency", "EURO"], r"currency"),
    ("currency-digit", "solo", ["group", "create", "G", "--currency", "E1R"], r"currency"),
    ("currency-symbol", "solo", ["group", "create", "G", "--currency", "€"], r"currency"),
    ("currency-empty", "solo", ["group", "create", "G", "--currency", ""], r"currency"),
    ("group-name-empty", "solo", ["group", "create", " ", "--currency", "EUR"], r"name"),
    # proposals
    ("closes-words", "solo", ["propose", "--title", "T", "--amount", "1", "--closes",
                              "tomorrow"], r"ISO 8601|clos"),
    ("closes-bad-month", "solo", ["propose", "--title", "T", "--amount", "1", "--closes",
                                  "2030-13-01"], r"ISO 8601|clos"),
    ("closes-local-format", "solo", ["propose", "--title", "T", "--amount", "1", "--closes",
                                     "31/12/2030"], r"ISO 8601|clos"),
    ("propose-empty-title", "solo", ["propose", "--title", " ", "--amount", "1"], r"title"),
    # missing required options and arguments
    ("init-no-name", "fresh", ["init"], r"name"),
    ("create-no-currency", "solo", ["group", "create", "G"], r"currency"),
    ("create-no-name", "solo", ["group", "create", "--currency", "EUR"], r"name"),
    ("join-no-invite", "solo", ["group", "join"], r"invite"),
    ("group-no-subcommand", "solo", ["group"], r"required|command"),
    ("deposit-no-amount", "solo", ["deposit"], r"amount"),
    ("propose-no-title", "solo", ["propose", "--amount", "1"], r"title"),
    ("propose-no-amount", "solo", ["propose", "--title", "T"], r"amount"),
    ("vote-no-choice", "solo", ["vote", "{open}"], r"choice"),
    ("vote-nothing", "solo", ["vote"], r"proposal"),
    ("close-no-proposal", "solo", ["close"], r"proposal"),
    ("spend-no-amount", "solo", ["spend", "{approved}"], r"amount"),
    ("export-no-out", "solo", ["export"], r"out"),
    ("import-no-folder", "solo", ["import"], r"folder"),
    ("audit-no-path", "solo", ["audit"], r"path"),
    # unknown commands and options
    ("unknown-command", "solo", ["frobnicate"], r"frobnicate"),
    ("unknown-group-command", "solo", ["group", "frob"], r"frob"),
    ("unknown-option", "solo", ["status", "--colour"], r"colour"),
    # --group
    ("group-matches-nothing", "solo", ["status", "--group", "nosuch"], r"nosuch"),
    ("group-hex-matches-nothing", "solo", ["deposit", "5", "--group", "{not_group}"],
     r"group"),
    ("several-groups-no-selector", "multi", ["status"], r"group"),
    ("several-groups-deposit", "multi", ["deposit", "5"], r"group"),
    # audit, import
    ("audit-missing-path", "solo", ["audit", "{missing}"], r"missing|folder|exist"),
    ("audit-a-file", "solo", ["audit", "{a_file}"], r"folder"),
    ("audit-empty-folder", "solo", ["audit", "{empty}"], r"feeds|folder|empty"),
    ("import-missing-path", "solo", ["import", "{missing}"], r"missing|folder|exist"),
    ("import-empty-folder", "solo", ["import", "{empty}"], r"feeds|folder|empty"),
    ("import-other-group", "solo", ["import", "{multi_export}"], r"group"),
]


@pytest.fixture()
def context(solo: Solo, multi: dict[str, Any], world: World, tmp_path: Path) -> dict[str, str]:
    empty = tmp_path / "empty"
    empty.mkdir()
    a_file = tmp_path / "a_file"
    a_file.write_text("not a folder\n")
    other = world.ids["a"]
    return {
        "invite": solo.invite,
        "invite_truncated": solo.invite[: len(solo.invite) // 2],
        "pub_code": solo.pub_code,
        "open": solo.open,
        "approved": solo.approved,
        "closed": solo.closed,
        "deposit": solo.deposit,
        "ambiguous": solo.ambiguous,
        "member": other,
        "member_bare": other[1:],
        "not_group": "".join("f" if ch != "f" else "e" for ch in solo.group[:16]),
        "solo_export": str(solo.export),
        "multi_export": str(multi["export"]),
        "yen": multi["yen"],
        "dinar": multi["dinar"],
        "out": str(tmp_path / "out"),
        "missing": str(tmp_path / "missing"),
        "empty": str(empty),
        "a_file": str(a_file),
    }


def _home_for(kind: str, solo: Solo, multi: dict[str, Any], tmp_path: Path) -> Path:
    home = tmp_path / "home"
    if kind == "solo":
        copy_home(solo.home, home)
    elif kind == "multi":
        copy_home(multi["home"], home)
    elif kind == "blank":
        ok(home, "init", "--name", "Blank")
    else:
        assert kind == "fresh"
    return home


def _check_refusal(code: int, out: str, err: str, as_json: bool) -> dict[str, Any] | None:
    assert code == 2, (code, out, err)
    assert "Traceback" not in err and "Traceback" not in out
    lines = err.strip().splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got {err!r}"
    if not as_json:
        return None
    answer = one_json(out)
    assert set(answer) == {"error"}, answer
    assert set(answer["error"]) >= {"kind", "message"}
    assert isinstance(answer["error"]["kind"], str) and answer["error"]["kind"]
    assert isinstance(answer["error"]["message"], str) and answer["error"]["message"]
    return answer


@pytest.mark.parametrize(("case", "kind", "args", "names"), BAD_CASES,
                         ids=[c[0] for c in BAD_CASES])
def test_bad_input_is_refused_and_writes_nothing(
    case: str, kind: str, args: list[str], names: str,
    solo: Solo, multi: dict[str, Any], context: dict[str, str], tmp_path: Path,
) -> None:
    home = _home_for(kind, solo, multi, tmp_path)
    argv = [a.format(**context) for a in args]
    before = snapshot(home)
    for as_json in (True, False):
        code, out, err = run(home, *argv, *(["--json"] if as_json else []))
        answer = _check_refusal(code, out, err, as_json)
        message = answer["error"]["message"] if answer else err
        assert re.search(names, message, re.IGNORECASE), (names, message)
        assert snapshot(home) == before, "bad input changed the home"
        if kind == "fresh":
            assert not home.exists(), "bad input created the home"
        assert not Path(context["out"]).exists(), "bad input wrote an export"


def test_bob_cannot_withdraw_alices_proposal(world: World, tmp_path: Path) -> None:
    b = copy_home(world.b, tmp_path / "bob")
    a = copy_home(world.a, tmp_path / "alice")
    pid = ok(a, "propose", "--title", "Mine", "--amount", "1")["proposal"]
    out = tmp_path / "x"
    ok(a, "export", "--out", str(out))
    ok(b, "import", str(out))
    before = snapshot(b)
    code, raw, err = run(b, "withdraw", pid, "--json")
    _check_refusal(code, raw, err, True)
    assert snapshot(b) == before


# ------------------------------------------------------- 4. audit finds invalid data


def _feed_file(export: Path, group: str, feed_key: bytes) -> Path:
    path = export / group / (feed_key.hex() + ".feed")
    assert path.exists(), sorted(p.name for p in (export / group).iterdir())
    return path


def _feed_key(home: Path) -> bytes:
    h = Home(home)
    return h.feed_keys(h.group()).public


@pytest.fixture()
def tampered(world: World, tmp_path: Path) -> dict[str, Any]:
    """A copy of the final export where the signature of Bob's last entry has one
    flipped byte (frame CRC recomputed, so it is a whole frame, not a torn one)."""
    export = tmp_path / "tampered"
    shutil.copytree(world.final_export, export)
    bob_feed = _feed_key(world.b)
    path = _feed_file(export, world.group, bob_feed)
    payloads = read_frames(path)
    good = entry_mod.decode(payloads[-1])
    at = payloads[-1].index(good.signature) + 17
    bad_raw = bytearray(payloads[-1])
    bad_raw[at] ^= 0x01
    payloads[-1] = bytes(bad_raw)
    bad = entry_mod.decode(payloads[-1])  # still a well-formed entry...
    assert not bad.signature_ok()  # ...whose signature does not verify
    write_frames(path, payloads)
    return {"path": export, "feed": feed_id(bob_feed), "seq": good.seq,
            "good": entry_id(good.id), "bad": entry_id(bad.id)}


def test_audit_finds_a_flipped_signature_byte(world: World, tampered: dict[str, Any]) -> None:
    code, report, err = run_json(world.a, "audit", str(tampered["path"]))
    assert code == 3, report
    assert len(err.strip().splitlines()) <= 1 and "Traceback" not in err
    check_audit(report)
    assert report["valid"] is False and report["forks"] == []
    assert report["entries"] == world.final_export_counts["entries"]
    hits = [e for e in report["errors"]
            if e["feed"] == tampered["feed"] and e["seq"] == tampered["seq"]]
    assert hits, report["errors"]
    for key in ("feed", "seq", "entry", "kind", "message"):
        assert key in hits[0]
    assert "signature" in hits[0]["kind"]
    assert hits[0]["entry"] in (tampered["bad"], None)
    # Also as an outside auditor without any key: integrity alone finds it.
    code, report, _err = run_json(world.root / "nobody", "audit", str(tampered["path"]))
    assert code == 3 and report["valid"] is False and report["state_hash"] is None


def test_audit_text_mode_reports_invalid(world: World, tampered: dict[str, Any]) -> None:
    code, out, err = run(world.a, "audit", str(tampered["path"]))
    assert code == 3 and "Traceback" not in err
    assert tampered["feed"] in out


def test_import_of_tampered_export_keeps_the_good_entries(
    world: World, tampered: dict[str, Any], tmp_path: Path
) -> None:
    dave = tmp_path / "dave"
    ok(dave, "init", "--name", "Dave")
    ok(dave, "group", "join", world.invite)
    log = group_dir(dave) / "entries.log"
    before = snapshot(dave)
    before_log = log.read_bytes()

    code, raw, err = run(dave, "import", str(tampered["path"]), "--json")
    assert code == 1, (raw, err)
    assert "Traceback" not in err
    answer = one_json(raw)
    # Everything but the one bad entry (Bob's last) was taken in.
    assert answer["received"] == world.final_export_counts["entries"] - 1
    after = snapshot(dave)
    for name, data in before.items():
        rel = log.relative_to(dave).as_posix()
        if name == rel:
            assert after[name].startswith(before_log), "stored entries were changed"
        else:
            assert after[name] == data, name
    # The good copy brings exactly the missing entry, and the home audits clean.
    assert ok(dave, "import", str(world.final_export))["received"] == 1
    code, report, _err = run_json(dave, "audit", str(dave))
    assert code == 0 and report["valid"] is True


def test_import_of_tampered_export_changes_nothing_held(
    world: World, tampered: dict[str, Any], tmp_path: Path
) -> None:
    a = copy_home(world.a, tmp_path / "alice")
    before = snapshot(a)
    code, raw, err = run(a, "import", str(tampered["path"]), "--json")
    assert code == 1, (raw, err)
    assert one_json(raw)["received"] == 0
    assert snapshot(a) == before
    assert ok(a, "status")["state_hash"] == world.status["a"]["state_hash"]


@pytest.fixture()
def forked(world: World, tmp_path: Path) -> dict[str, Any]:
    """A copy of the final export with a second, validly signed entry at Alice's last
    sequence: a fork."""
    export = tmp_path / "forked"
    shutil.copytree(world.final_export, export)
    h = Home(world.a)
    info = h.group()
    kp = h.feed_keys(info)
    path = _feed_file(export, world.group, kp.public)
    payloads = read_frames(path)
    last = entry_mod.decode(payloads[-1])
    other = entry_mod.create(kp.secret, kp.public, info.id, last.seq, last.previous,
                             last.claimed_ms + 1, b"another story")
    assert other.signature_ok() and other.id != last.id
    write_frames(path, [*payloads, other.raw])
    return {"path": export, "feed": feed_id(kp.public), "seq": last.seq,
            "entries": sorted([entry_id(last.id), entry_id(other.id)])}


def test_audit_finds_a_fork(world: World, forked: dict[str, Any]) -> None:
    code, report, _err = run_json(world.a, "audit", str(forked["path"]))
    assert code == 3, report
    check_audit(report)
    assert report["valid"] is False
    assert len(report["forks"]) == 1, report["forks"]
    fork = report["forks"][0]
    assert fork["feed"] == forked["feed"] and fork["seq"] == forked["seq"]
    assert sorted(fork["entries"]) == forked["entries"]


def test_import_of_a_fork_keeps_both_branches_and_flags_the_member(
    world: World, forked: dict[str, Any], tmp_path: Path
) -> None:
    b = copy_home(world.b, tmp_path / "bob")
    log = group_dir(b) / "entries.log"
    before_log = log.read_bytes()
    code, raw, err = run(b, "import", str(forked["path"]), "--json")
    assert code == 0, (raw, err)
    report = one_json(raw)
    assert report["received"] == 1 and report["forks"] == 1
    assert log.read_bytes().startswith(before_log)  # appended, nothing changed
    view = ok(b, "status")
    check_status(view)
    forks = [w for w in view["warnings"] if w["kind"] == "fork"]
    assert [(w["feed"], w["seq"]) for w in forks] == [(forked["feed"], forked["seq"])]
    assert forks[0]["member"] in view["members"]  # named by the member, not only a key
    # The other branch holds content nobody can read: flagged, and every money record
    # of the first branch (Alice's reversal of her 1 EUR deposit) still counts.
    assert view["deposited"] == world.status["b"]["deposited"]
    assert any(w["kind"] == "bad_content" for w in view["warnings"])
    code, report, _err = run_json(b, "audit", str(b))
    assert code == 3 and report["valid"] is False
    assert [(f["feed"], f["seq"], sorted(f["entries"])) for f in report["forks"]] == [
        (forked["feed"], forked["seq"], forked["entries"])
    ]


# ------------------------------------------------------------------- 5. torn tail


@pytest.mark.parametrize("garbage", [
    struct.pack(">II", 4000, 0x12345678) + b"half an entry",  # a frame never finished
    b"\0" * 64,  # what a power cut can leave
    b"\x00\x00",  # less than a header
], ids=["partial-frame", "zeros", "short-header"])
def test_torn_tail_is_cut_silently(world: World, tmp_path: Path, garbage: bytes) -> None:
    a = copy_home(world.a, tmp_path / "alice")
    log = group_dir(a) / "entries.log"
    good = log.read_bytes()
    log.write_bytes(good + garbage)
    code, report, err = run_json(a, "audit", str(a))
    assert code == 0 and report["valid"] is True, report
    code, out, err = run(a, "status", "--json")
    assert code == 0 and err == ""
    assert one_json(out)["state_hash"] == world.status["a"]["state_hash"]
    assert log.read_bytes() == good
    code, report, _err = run_json(a, "audit", str(a))
    assert code == 0 and report["valid"] is True
    assert report["state_hash"] == world.status["a"]["state_hash"]
    # The home goes on as before.
    ok(a, "deposit", "1")
    assert ok(a, "status")["deposited"] == world.status["a"]["deposited"] + 100


# ------------------------------------------------------------- home and --json placement


def test_home_from_environment_and_home_option_wins(world: World, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "SSBMONEY_HOME"}
    env["SSBMONEY_HOME"] = str(world.b)
    base = [sys.executable, "-m", "ssbmoney"]
    done = subprocess.run([*base, "whoami", "--json"], capture_output=True, text=True,
                          env=env, cwd=REPO_ROOT, timeout=60)
    assert done.returncode == 0, done.stderr
    assert one_json(done.stdout)["id"] == world.ids["b"]
    done = subprocess.run([*base, "--home", str(world.a), "whoami", "--json"],
                          capture_output=True, text=True, env=env, cwd=REPO_ROOT, timeout=60)
    assert done.returncode == 0, done.stderr
    assert one_json(done.stdout)["id"] == world.ids["a"]


def test_json_flag_before_the_command(world: World) -> None:
    code, out, _err = run(world.a, "--json", "status")
    assert code == 0
    assert one_json(out)["state_hash"] == world.status["a"]["state_hash"]
    code, out, err = run(world.a, "--json", "frobnicate")
    _check_refusal(code, out, err, True)


# ------------------------------------------------ once contract mismatches, now fixed


def test_export_out_onto_a_file_is_bad_input(solo: Solo, tmp_path: Path) -> None:
    home = copy_home(solo.home, tmp_path / "home")
    target = tmp_path / "a_file"
    target.write_text("keep me\n")
    before = snapshot(home)
    code, out, err = run(home, "export", "--out", str(target), "--json")
    assert target.read_text() == "keep me\n" and snapshot(home) == before
    _check_refusal(code, out, err, True)


def test_import_refusal_with_json_has_an_error_object(
    world: World, tampered: dict[str, Any], tmp_path: Path
) -> None:
    a = copy_home(world.a, tmp_path / "alice")
    code, raw, _err = run(a, "import", str(tampered["path"]), "--json")
    assert code == 1
    answer = one_json(raw)
    assert isinstance(answer.get("error"), dict), answer
    assert isinstance(answer["error"].get("kind"), str)
    assert isinstance(answer["error"].get("message"), str)
