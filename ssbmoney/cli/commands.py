"""What each command does: check the input against what this home can see, write,
and return ``(result for --json, text for people, exit code)``.

Every check happens before anything is written, so bad input changes nothing.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ssbmoney.app import audit as audit_mod
from ssbmoney.app.actions import Session
from ssbmoney.app.changes import outcome_changes
from ssbmoney.app.dates import closes_ms
from ssbmoney.app.home import GroupInfo, Home
from ssbmoney.cli.render import status_text
from ssbmoney.core import content as msg
from ssbmoney.core import money
from ssbmoney.core.entry import entry_id, parse_feed_id
from ssbmoney.core.errors import BadInput, SsbMoneyError
from ssbmoney.core.group import decode_invite, encode_invite, encode_pub_code
from ssbmoney.store.group_store import Store

Result = tuple[dict[str, Any], str, int]


def run(args: argparse.Namespace, home_dir: Path) -> Result:
    home = Home(home_dir)
    name = args.command if args.command != "group" else f"group_{args.group_command}"
    handler = globals().get("cmd_" + name.replace("-", "_"))
    if handler is None:
        from ssbmoney.cli import net_commands

        handler = getattr(net_commands, "cmd_" + name.replace("-", "_"))
    return handler(home, args)  # type: ignore[no-any-return]


def _group(home: Home, args: argparse.Namespace) -> GroupInfo:
    return home.group(getattr(args, "group", None))


# ---------------------------------------------------------------------- identity


def cmd_init(home: Home, args: argparse.Namespace) -> Result:
    ident = home.init(args.name)
    return {"id": ident.keys.id, "name": ident.name}, f"created {ident.keys.id} ({ident.name})", 0


def cmd_whoami(home: Home, args: argparse.Namespace) -> Result:
    ident = home.identity()
    return {"id": ident.keys.id, "name": ident.name}, f"{ident.keys.id} {ident.name}", 0


# ------------------------------------------------------------------------ groups


def cmd_group_create(home: Home, args: argparse.Namespace) -> Result:
    members = [parse_feed_id(m) for m in args.member]
    info = home.create_group(args.name, args.currency, members, args.threshold, args.quorum,
                             args.block_vetoes == "yes")
    invite = encode_invite(home.invite(info))
    return (
        {"group": info.id.hex(), "invite": invite, "name": info.name},
        f"created group {info.name} ({info.id.hex()[:12]})\ninvite: {invite}",
        0,
    )


def cmd_group_join(home: Home, args: argparse.Namespace) -> Result:
    info = home.join_group(decode_invite(args.invite))
    return {"group": info.id.hex(), "name": info.name}, f"joined {info.name}", 0


def cmd_group_list(home: Home, args: argparse.Namespace) -> Result:
    rows = [{"group": g.id.hex(), "name": g.name, "currency": g.currency} for g in home.groups()]
    text = "\n".join(f"{r['group'][:12]}  {r['name']} ({r['currency']})" for r in rows)
    return {"groups": rows}, text or "no groups", 0


def cmd_group_invite(home: Home, args: argparse.Namespace) -> Result:
    info = _group(home, args)
    code = encode_invite(home.invite(info))
    return {"group": info.id.hex(), "invite": code}, code, 0


def cmd_group_pub_code(home: Home, args: argparse.Namespace) -> Result:
    info = _group(home, args)
    code = encode_pub_code(info.keys)
    return {"group": info.id.hex(), "code": code}, code, 0


# ------------------------------------------------------------------------ budget


@contextmanager
def _session(home: Home, args: argparse.Namespace) -> Iterator[Session]:
    info = _group(home, args)
    with home.store(info) as store:
        session = Session(home, info, store)
        yield session
    for note in session.notes:
        sys.stderr.write(f"ssbmoney: note: {note}\n")


def _money(session: Session, minor: int) -> str:
    return f"{money.format_amount(minor, session.currency)} {session.currency}"


def cmd_deposit(home: Home, args: argparse.Namespace) -> Result:
    with _session(home, args) as s:
        made = s.deposit(args.amount, args.note)
        amount = s.amount(args.amount)
        text = f"deposited {_money(s, amount)}: {entry_id(made.id)}"
    return {"entry": entry_id(made.id), "amount": amount}, text, 0


def cmd_propose(home: Home, args: argparse.Namespace) -> Result:
    if args.amount is None and not args.add_member:
        raise BadInput("propose: a spending proposal needs --amount AMOUNT "
                       "(or --add-member ID to admit a member)")
    closes_ms(args.closes)  # refused here too: a date no reader could show
    with _session(home, args) as s:
        made = s.propose(args.title, args.amount, args.payee, args.category, args.closes,
                         args.add_member)
    eid = entry_id(made.id)
    return {"proposal": eid, "entry": eid}, f"proposed {args.title.strip()}: {eid}", 0


def cmd_vote(home: Home, args: argparse.Namespace) -> Result:
    with _session(home, args) as s:
        made, proposal = s.vote(args.proposal, args.choice, args.comment)
    eid = entry_id(made.id)
    choice = args.choice.strip().lower()
    return ({"entry": eid, "proposal": proposal["id"], "choice": choice},
            f"voted {choice} on {proposal['title']}: {eid}", 0)


def cmd_close(home: Home, args: argparse.Namespace) -> Result:
    with _session(home, args) as s:
        made, after = s.close(args.proposal)
        view = s.view()
    outcome = after["status"]
    tally = {k: after[k] for k in msg.CHOICES}
    voters = sum(tally.values())
    why = (f"{voters} of {audit_mod.count_of(len(view['members']), 'member')} voted, "
           f"quorum {view_quorum(view)}")
    return ({"entry": entry_id(made.id), "proposal": after["id"], "outcome": outcome, **tally},
            f"closed {after['title']}: {outcome} ({why}; yes {tally['yes']}, no {tally['no']}, "
            f"abstain {tally['abstain']}, block {tally['block']})", 0)


def view_quorum(view: dict[str, Any]) -> int:
    """The quorum as the rules set it now (default: more than half of the members)."""
    quorum = view["rules"]["quorum"]
    return int(quorum) if quorum else len(view["members"]) // 2 + 1


def cmd_spend(home: Home, args: argparse.Namespace) -> Result:
    with _session(home, args) as s:
        made, proposal = s.spend(args.proposal, args.amount, args.payee, args.note)
        amount = s.amount(args.amount)
        text = f"spent {_money(s, amount)} on {proposal['title']}: {entry_id(made.id)}"
    return {"entry": entry_id(made.id), "proposal": proposal["id"], "amount": amount}, text, 0


def cmd_withdraw(home: Home, args: argparse.Namespace) -> Result:
    with _session(home, args) as s:
        made, proposal = s.withdraw(args.proposal)
    eid = entry_id(made.id)
    return {"entry": eid, "proposal": proposal["id"]}, f"withdrew {proposal['title']}: {eid}", 0


def cmd_reverse(home: Home, args: argparse.Namespace) -> Result:
    with _session(home, args) as s:
        made, target = s.reverse(args.entry, args.note)
    eid = entry_id(made.id)
    return {"entry": eid, "reversed": entry_id(target)}, f"reversed {entry_id(target)}: {eid}", 0


def cmd_status(home: Home, args: argparse.Namespace) -> Result:
    with _session(home, args) as s:
        view = s.view()
    return view, status_text(view, getattr(args, "all", False)), 0


# ------------------------------------------------------------ audit, export, import


def cmd_audit(home: Home, args: argparse.Namespace) -> Result:
    keys: dict[bytes, Any] = {}
    if args.invite:
        invite = decode_invite(args.invite)
        keys[invite.keys.group_id] = (invite.keys, invite.currency)
    else:
        try:
            for info in home.groups():
                keys[info.id] = (info.keys, info.currency)
        except SsbMoneyError as unread:  # still audit integrity; say why it cannot fold
            sys.stderr.write(f"ssbmoney: note: group keys not read ({unread.message}); "
                             "auditing integrity only\n")
    report = audit_mod.audit(args.path, keys)
    count_of = audit_mod.count_of
    lines = [f"{'valid' if report['valid'] else 'INVALID'}: "
             f"{count_of(report['feeds'], 'feed')}, {count_of(report['entries'], 'entry')}"]
    for err in report["errors"]:
        where = f" in {err['feed']}" if err["feed"] is not None else ""
        at = f" at seq {err['seq']}" if err["seq"] is not None else ""
        lines.append(f"  error {err['kind']}{where}{at}: {err['message']}")
    for fork in report["forks"]:
        at = f" at seq {fork['seq']}" if fork["seq"] is not None else ""
        lines.append(f"  fork in {fork['feed']}{at}: every branch is kept and counted")
    for grp in report["groups"]:
        lines.append(f"  group {grp['group'][:12]} state hash {grp['state_hash'] or '(no key)'}")
    return report, "\n".join(lines), 0 if report["valid"] else 3


def cmd_export(home: Home, args: argparse.Namespace) -> Result:
    if args.out.exists() and not args.out.is_dir():
        raise BadInput(f"--out {args.out} is a file; give a folder (new or existing)")
    selector = getattr(args, "group", None)
    groups = [home.group(selector)] if selector else home.groups()
    if not groups:
        raise BadInput("this home belongs to no group: nothing to export")
    stores = [Store(home.paths.group_dir(g.id), g.id) for g in groups]
    try:
        counts = audit_mod.export(stores, args.out)
    finally:
        for store in stores:
            store.close()
    text = (f"exported {audit_mod.count_of(counts['entries'], 'entry')} in "
            f"{audit_mod.count_of(counts['feeds'], 'feed')}")
    return counts, text, 0


def cmd_import(home: Home, args: argparse.Namespace) -> Result:
    found = audit_mod.collect(args.folder)
    mine = {g.id: g for g in home.groups()}
    received = duplicates = forks = 0
    errors: list[dict[str, Any]] = []
    skipped = []
    changed: list[dict[str, Any]] = []
    for data in found:
        info = mine.get(data.group)
        if info is None:
            skipped.append(data.group.hex())
            continue
        errors.extend(data.errors)
        with home.store(info) as store:
            ledger = home.ledger(info, store)
            before = ledger.view()
            # Every branch is taken in (a proof's entries too), then the proofs.
            report = store.ingest([*(e for items in data.feeds.values() for e in items),
                                   *(e for pair in data.proofs for e in pair)])
            new_forks, bad_proofs = store.ingest_fork_proofs(data.proofs)
            ledger.add_all(report.accepted)
            changed += outcome_changes(before, ledger.view())
        received += len(report.accepted)
        forks += new_forks + len(report.forks)
        duplicates += report.duplicates
        errors.extend(audit_mod.error_row(err) for err in [*report.errors, *bad_proofs])
    if not any(g in mine for g in (d.group for d in found)):
        raise BadInput(f"{args.folder} holds no group this home belongs to")
    result: dict[str, Any] = {"received": received, "duplicates": duplicates, "forks": forks,
                              "errors": errors, "skipped_groups": skipped, "changed": changed}
    count_of = audit_mod.count_of
    text = f"received {count_of(received, 'entry')} ({duplicates} already here)"
    if forks:
        text += (f"; {count_of(forks, 'new fork proof')}: every branch of a forked feed is"
                 " kept and counted")
    for change in changed:
        text += (f"\nchanged: {change['title']}: {change['from'] or 'new'} -> "
                 f"{change['to']} ({change['reason']})")
    if errors:
        refused = "; ".join(e["message"] for e in errors[:3])
        text += f"; refused {len(errors)}: {refused}"
        result["error"] = {"kind": "refused", "message":
                           f"refused {count_of(len(errors), 'invalid entry')}: {refused}"}
    return result, text, 1 if errors else 0


def cmd_reindex(home: Home, args: argparse.Namespace) -> Result:
    groups = home.groups()
    for info in groups:
        with home.store(info) as store:
            store.rebuild_index()
    text = f"rebuilt the index of {audit_mod.count_of(len(groups), 'group')}"
    return {"groups": len(groups)}, text, 0


