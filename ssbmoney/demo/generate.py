"""The demo group: a small developer collective sharing a grant, four weeks of it.

``generate`` plays the story below from fixed seeds and a fixed, injected clock, so
the same bytes come out every time; ``scripts/gen_demo`` writes them to
``feeds/demo/``. ``make_home`` turns that folder into a home for one of the demo
members, which ``scripts/demo`` then opens in the TUI.

The five members work in homes of their own (temporary folders) and only "meet" now
and then: on a weekly call, co-working, on a train. A meeting is a sync, simulated by
each member ingesting the others' entries. So each member closes a proposal on what
they have seen by then, the closes name different cuts, and one vote, written
offline after a close its author had not seen, arrives late and does not count.

Everything in the output is public on purpose, including the members' identity
seeds: these are test keys, and must never hold real money.
"""

from __future__ import annotations

import argparse
import base64
import json
import shutil
import sys
import tempfile
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from ssbmoney.app import audit as audit_mod
from ssbmoney.app.home import GroupInfo, Home
from ssbmoney.core import money
from ssbmoney.core.errors import BadInput, SsbMoneyError
from ssbmoney.core.group import decode_invite, encode_invite
from ssbmoney.core.keys import keypair
from ssbmoney.core.ledger import Ledger
from ssbmoney.demo.story import DEMO_WARNING, GROUP_NAME, NAMES, YEAR, World, member_seed, play
from ssbmoney.store.group_store import Store


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def _member_file(name: str) -> str:
    keys = keypair(member_seed(name))
    body = {
        "name": name,
        "seed": base64.b64encode(keys.seed).decode(),
        "id": keys.id,
        "demo_only": DEMO_WARNING,
    }
    return json.dumps(body, indent=2, sort_keys=True) + "\n"


def generate(out: Path) -> dict[str, Any]:
    """Play the story and write the demo folder to ``out`` (which must be empty)."""
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise BadInput(f"{out} is not empty; the demo is written into an empty folder")
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="ssbmoney-demo-") as tmp, ExitStack() as stack:
        world = World(Path(tmp), stack)
        play(world)
        assert world.invite is not None
        invite = world.invite
        # Everything anyone holds, in one store, exported as an auditor would get it.
        archive = stack.enter_context(Store(Path(tmp) / "archive", invite.keys.group_id))
        for member in world.people.values():
            report = archive.ingest(member.store.all_entries())
            if report.errors or report.forks:
                raise AssertionError(f"demo archive refused entries: {report}")
        counts = audit_mod.export([archive], out)
        view = Ledger(invite.keys, invite.currency).add_all(archive.all_entries()).view()
    code = encode_invite(invite)
    _write(out / "invite.txt", code + "\n")
    for name in NAMES:
        _write(out / "members" / f"{name.lower()}.json", _member_file(name))
    _write(out / "README.md", _readme(view, counts, code))
    return {
        "group": invite.keys.group_id.hex(),
        "invite": code,
        "feeds": counts["feeds"],
        "entries": counts["entries"],
        "state_hash": view["state_hash"],
        **{k: view[k] for k in ("balance", "deposited", "spent", "committed", "available")},
        "proposals": {p["title"]: p["status"] for p in view["proposals"]},
        "warnings": sorted({w["kind"] for w in view["warnings"]}),
    }


def _readme(view: dict[str, Any], counts: dict[str, int], invite: str) -> str:
    cur = view["currency"]

    def amt(minor: int) -> str:
        return f"{money.format_amount(minor, cur)} {cur}"

    ids = {name: member_id for member_id, name in view["member_names"].items()}
    members = "\n".join(
        f"| {name} | `{ids[name]}` | `members/{name.lower()}.json` |" for name in NAMES
    )
    order = {"open": 0, "approved": 1, "rejected": 2}
    rows = sorted(view["proposals"], key=lambda p: (order[p["status"]], p["claimed_ms"]))
    proposals = "\n".join(
        f"| {p['title']} | {amt(p['amount'])} | "
        f"{'withdrawn' if p['withdrawn'] else p['status']} | "
        f"{p['yes']} / {p['no']} / {p['abstain']} / {p['block']} | {amt(p['spent'])} |"
        for p in rows
    )
    warnings = "\n".join(
        f"- `{w['kind']}`: `{w.get('entry') or w.get('feed')}`" for w in view["warnings"]
    )
    return f"""# The demo group: {view['name']}

A small developer collective of five (Ana, Bea, Cem, Dara and Eli) shares a grant in
{cur} and, for a few weeks, manages it together: anyone proposes a payment, the others
agree, abstain, object or block, and whoever pays records the spend. They meet on a
voice call every Wednesday and otherwise work offline, each on their own laptop.

**Try it:** `scripts/demo` (or `scripts/demo --as eli`) makes a home for one of the
members from this folder and opens the terminal UI. Anything you do there stays in that
home (`.demo-home/` by default); this folder is never changed.

**Audit it:** `ssbmoney audit feeds/demo --invite "$(cat feeds/demo/invite.txt)"`.

## The keys here are public test keys

`invite.txt` is the group's invite code: it holds the group key, so anyone can read
these feeds. `members/*.json` hold each member's identity **seed**, so anyone can act
as them. Both are published on purpose. They are demo-only keys: never use them, or a
home made from them, for real money.

## What it contains

- `{view['group']}/`:
  the export (`ssbmoney export` format): one `<feed key hex>.feed` per member,
  {counts['feeds']} feeds, {counts['entries']} signed entries.
- `invite.txt`, `members/<name>.json`, and this file.

| member | id | identity seed |
|---|---|---|
{members}

Over four weeks (March {YEAR}, claimed times in Berlin time) the group:

- records two grant tranches and a small donation as deposits; Bea records the first
  tranche a second time by mistake and reverses it a week later (a reversal cancels,
  nothing is deleted);
- approves wages for the first sprint, a server and train tickets to a meeting in Ghent,
  and records spends against them; Dara's share of the sprint wages is not paid yet, so
  it stays committed;
- rejects a conference booth by majority (no), and a paid chat tool by Cem's block
  (a block vetoes, whatever the count);
- sees Bea change her vote on the server from no to yes, and Eli his on the second
  sprint from no to yes; abstentions count for the quorum, not for the majority;
- has Eli withdraw his own laptop proposal;
- closes proposals on what the closer had seen: Cem closes the sprint at the end of a
  call, Dara closes the server the next morning on a train, and Eli, offline, votes on
  the server after Dara's close without having seen it: that vote is outside the close's
  cut, so it does not count and is flagged `late_vote`;
- records Cem's real train fare although it goes beyond what was approved for travel:
  the command line would have refused it, so it was written past that check, and the
  ledger keeps it and flags it `overspend`;
- leaves two proposals open, with some votes: the second sprint's wages and an
  accountant for the year-end report.

## The state it folds to

| | |
|---|---|
| deposited | {amt(view['deposited'])} |
| spent | {amt(view['spent'])} |
| balance | {amt(view['balance'])} |
| committed | {amt(view['committed'])} |
| available | {amt(view['available'])} |
| state hash | `{view['state_hash']}` |

| proposal | amount | status | yes / no / abstain / block | spent |
|---|---|---|---|---|
{proposals}

Warnings:

{warnings}

## How it was made

`scripts/gen_demo` (the story is `ssbmoney/demo.py`) plays the four weeks from fixed
identity seeds, a fixed group secret and a simulated clock. Each member works in a home
of their own; "meeting" means syncing, simulated by ingesting each other's entries.
Signatures are deterministic and content nonces are derived from the content, so
running it again writes exactly these bytes; `tests/test_demo.py` checks that.
"""


# ----------------------------------------------------------------------- homes


def _member_seed_file(feeds: Path, member: str) -> tuple[str, bytes]:
    path = feeds / "members" / f"{member.strip().lower()}.json"
    if not path.is_file():
        known = sorted(p.stem for p in (feeds / "members").glob("*.json"))
        raise BadInput(f"no demo member {member!r} in {feeds} (there are: {', '.join(known)})")
    data = json.loads(path.read_text(encoding="utf-8"))
    return str(data["name"]), base64.b64decode(data["seed"])


def make_home(feeds: Path, home: Path, member: str = "ana") -> None:
    """Make ``home`` a home of one demo member holding the whole demo group.

    The member's identity is restored from its public seed and the export imported
    before the group is joined, so the join finds the member's feed already there and
    writes nothing. A home that already holds this identity and the group is left as
    it is, so what a user did in the demo persists; one with another identity is
    refused.
    """
    feeds, home = Path(feeds), Path(home)
    name, seed = _member_seed_file(feeds, member)
    invite = decode_invite((feeds / "invite.txt").read_text(encoding="utf-8"))
    place = Home(home)
    if place.paths.identity.exists():
        ident = place.identity()
        if ident.keys.seed != seed:
            raise BadInput(
                f"{home} already holds the identity of {ident.name} ({ident.keys.id}), "
                f"not demo member {name}; use another folder (SSBMONEY_DEMO_HOME)"
            )
        if any(g.id == invite.keys.group_id for g in place.groups()):
            return
    else:
        place.init(name, seed=seed)
    info = GroupInfo(invite.keys, invite.name, invite.currency, invite.urls)
    found = [d for d in audit_mod.collect(feeds) if d.group == invite.keys.group_id]
    if not found:
        raise BadInput(f"{feeds} holds no feeds of the demo group")
    with place.store(info) as store:
        report = store.ingest(e for items in found[0].feeds.values() for e in items)
        if report.errors or report.forks:
            raise BadInput(f"the demo feeds in {feeds} are damaged: {report.errors[:1]}")
        before = store.count()
        place.join_group(invite)
        if store.count() != before:
            raise AssertionError("joining the demo group wrote a new entry")


# ----------------------------------------------------------------------- command line


def main(argv: Sequence[str] | None = None, out: Callable[[str], Any] = print) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ssbmoney.demo",
        description="Make a home for one member of the shipped demo group.",
    )
    parser.add_argument("--feeds", type=Path, required=True, help="the demo folder")
    parser.add_argument("--home", type=Path, required=True, help="the home to make")
    parser.add_argument("--as", dest="member", default="ana",
                        help="which demo member to be (ana, bea, cem, dara, eli)")
    args = parser.parse_args(argv)
    try:
        make_home(args.feeds, args.home, args.member)
    except SsbMoneyError as err:
        sys.stderr.write(f"ssbmoney demo: {err.message}\n")
        return err.exit_code
    except OSError as err:
        sys.stderr.write(f"ssbmoney demo: {err}\n")
        return 1
    out(f"demo home {args.home}: {Home(args.home).identity().name} in {GROUP_NAME}")
    return 0


def regenerate(out: Path) -> dict[str, Any]:
    """Clear ``out`` and generate the demo into it (for scripts/gen_demo)."""
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        if not (out / "invite.txt").is_file() or not (out / "members").is_dir():
            raise BadInput(f"{out} does not look like a demo folder; not clearing it")
        shutil.rmtree(out)
    return generate(out)


if __name__ == "__main__":
    sys.exit(main())
