"""What each command does: check the input against what this home can see, write,
and return ``(result for --json, text for people, exit code)``.

Every check happens before anything is written, so bad input changes nothing.
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path
from typing import Any

from ssbmoney import audit as audit_mod
from ssbmoney import content as msg
from ssbmoney import money
from ssbmoney.entry import entry_id, feed_id, parse_entry_id, parse_feed_id
from ssbmoney.errors import BadInput
from ssbmoney.group import Invite, decode_invite, encode_invite, encode_pub_code, group_keys
from ssbmoney.home import GroupInfo, Home
from ssbmoney.render import status_text
from ssbmoney.store import Store

Result = tuple[dict[str, Any], str, int]


def run(args: argparse.Namespace, home_dir: Path) -> Result:
    home = Home(home_dir)
    name = args.command if args.command != "group" else f"group_{args.group_command}"
    handler = globals()["cmd_" + name.replace("-", "_")]
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
    import os

    currency = money.check_currency(args.currency)
    if not args.name.strip():
        raise BadInput("a group name must not be empty")
    if not 1 <= args.threshold <= 100:
        raise BadInput(f"--threshold must be an integer from 1 to 100, not {args.threshold}")
    members = tuple(dict.fromkeys(parse_feed_id(m) for m in args.member))
    if args.quorum is not None and not 1 <= args.quorum <= len(members) + 1:
        raise BadInput(
            f"--quorum must be from 1 to the number of founding members ({len(members) + 1})"
        )
    ident = home.identity()
    secret = os.urandom(32)
    founder = home.feed_keypair(secret)
    info = GroupInfo(group_keys(secret, founder.public), args.name.strip(), currency, ())
    members = tuple(m for m in members if m != ident.keys.public)
    found = msg.Found(info.name, currency, members, args.threshold, args.quorum,
                      args.block_vetoes == "yes")
    home.save_group(info)
    home.post(info, [found])
    invite = encode_invite(home.invite(info))
    return (
        {"group": info.id.hex(), "invite": invite, "name": info.name},
        f"created group {info.name} ({info.id.hex()[:12]})\ninvite: {invite}",
        0,
    )


def cmd_group_join(home: Home, args: argparse.Namespace) -> Result:
    invite = decode_invite(args.invite)
    home.identity()
    info = GroupInfo(invite.keys, invite.name, invite.currency, invite.urls)
    already = any(g.id == info.id for g in home.groups())
    if not already:
        home.save_group(info)
    home.post(info, [])  # the join entry, if this feed has none yet
    return {"group": info.id.hex(), "name": info.name}, f"joined {info.name}", 0


def cmd_group_list(home: Home, args: argparse.Namespace) -> Result:
    rows = [{"group": g.id.hex(), "name": g.name, "currency": g.currency} for g in home.groups()]
    text = "\n".join(f"{r['group'][:12]}  {r['name']} ({r['currency']})" for r in rows)
    return {"groups": rows}, text or "no groups", 0


def cmd_group_invite(home: Home, args: argparse.Namespace) -> Result:
    info = _group(home, args)
    code = encode_invite(Invite(info.keys, info.name, info.currency, info.urls))
    return {"group": info.id.hex(), "invite": code}, code, 0


def cmd_group_pub_code(home: Home, args: argparse.Namespace) -> Result:
    info = _group(home, args)
    code = encode_pub_code(info.keys)
    return {"group": info.id.hex(), "code": code}, code, 0


# ------------------------------------------------------------------------ budget


def _view(home: Home, info: GroupInfo, store: Store) -> dict[str, Any]:
    return home.ledger(info, store).view()


def _find_proposal(view: dict[str, Any], text: str) -> dict[str, Any]:
    prefix = text.strip()
    if not prefix:
        raise BadInput("a proposal id must not be empty")
    if not prefix.startswith("%"):
        prefix = "%" + prefix
    matches = [p for p in view["proposals"] if p["id"].startswith(prefix)]
    if not matches:
        raise BadInput(f"no proposal with an id starting {text!r}")
    if len(matches) > 1:
        raise BadInput(f"{len(matches)} proposals have ids starting {text!r}; give more of it")
    return matches[0]


def _check_member(home: Home, view: dict[str, Any]) -> None:
    me = home.identity().keys.id
    if view["name"] and me not in view["members"]:
        raise BadInput("you are not a member of this group, so this would not count")


def cmd_deposit(home: Home, args: argparse.Namespace) -> Result:
    info = _group(home, args)
    amount = money.parse_amount(args.amount, info.currency)
    with home.store(info) as store:
        (made,) = home.post(info, [msg.Deposit(amount, args.note)], store)
    eid = entry_id(made.id)
    return ({"entry": eid, "amount": amount},
            f"deposited {money.format_amount(amount, info.currency)} {info.currency}: {eid}", 0)


def _closes_ms(text: str | None) -> int | None:
    if text is None:
        return None
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        raise BadInput(f"--closes must be an ISO 8601 date or time, not {text!r}") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return int(when.timestamp()) * 1000


def cmd_propose(home: Home, args: argparse.Namespace) -> Result:
    info = _group(home, args)
    amount = money.parse_amount(args.amount, info.currency)
    if not args.title.strip():
        raise BadInput("--title must not be empty")
    add = parse_feed_id(args.add_member) if args.add_member else None
    proposal = msg.Proposal(args.title.strip(), amount, args.payee, args.category,
                            _closes_ms(args.closes), add)
    with home.store(info) as store:
        _check_member(home, _view(home, info, store))
        (made,) = home.post(info, [proposal], store)
    eid = entry_id(made.id)
    return {"proposal": eid, "entry": eid}, f"proposed {proposal.title}: {eid}", 0


def cmd_vote(home: Home, args: argparse.Namespace) -> Result:
    info = _group(home, args)
    choice = args.choice.strip().lower()
    if choice not in msg.CHOICES:
        raise BadInput(f"a vote is one of {', '.join(msg.CHOICES)}, not {args.choice!r}")
    with home.store(info) as store:
        view = _view(home, info, store)
        proposal = _find_proposal(view, args.proposal)
        if proposal["status"] != "open":
            raise BadInput(f"proposal {proposal['title']!r} is {proposal['status']}; "
                           "votes on it would not count")
        _check_member(home, view)
        pid = parse_entry_id(proposal["id"])
        (made,) = home.post(info, [msg.Vote(pid, choice, args.comment)], store)
    eid = entry_id(made.id)
    return ({"entry": eid, "proposal": proposal["id"], "choice": choice},
            f"voted {choice} on {proposal['title']}: {eid}", 0)


def cmd_close(home: Home, args: argparse.Namespace) -> Result:
    info = _group(home, args)
    with home.store(info) as store:
        view = _view(home, info, store)
        proposal = _find_proposal(view, args.proposal)
        if proposal["status"] != "open":
            raise BadInput(f"proposal {proposal['title']!r} is already {proposal['status']}")
        _check_member(home, view)
        with store.locked():
            me = home.feed_keys(info).public
            cut = tuple(sorted(
                (feed, state.seq) for feed, state in store.heads().items()
                if not state.forked or feed == me
            ))
            close = msg.Close(parse_entry_id(proposal["id"]), cut)
            (made,) = home.post(info, [close], store)
        after = _find_proposal(_view(home, info, store), proposal["id"])
    outcome = after["status"] if after["status"] in ("approved", "rejected") else "rejected"
    eid = entry_id(made.id)
    tally = {k: after[k] for k in msg.CHOICES}
    return ({"entry": eid, "proposal": proposal["id"], "outcome": outcome, **tally},
            f"closed {proposal['title']}: {outcome} "
            f"(yes {tally['yes']}, no {tally['no']}, abstain {tally['abstain']}, "
            f"block {tally['block']})", 0)


def cmd_spend(home: Home, args: argparse.Namespace) -> Result:
    info = _group(home, args)
    amount = money.parse_amount(args.amount, info.currency)
    with home.store(info) as store:
        view = _view(home, info, store)
        proposal = _find_proposal(view, args.proposal)
        if proposal["status"] != "approved":
            raise BadInput(f"proposal {proposal['title']!r} is {proposal['status']}, "
                           "not approved: nothing may be spent on it")
        left = proposal["amount"] - proposal["spent"]
        if amount > left:
            raise BadInput(
                f"{money.format_amount(amount, info.currency)} is more than the "
                f"{money.format_amount(max(left, 0), info.currency)} left of what was approved"
            )
        _check_member(home, view)
        spend = msg.Spend(parse_entry_id(proposal["id"]), amount,
                          args.payee or proposal["payee"], args.note)
        (made,) = home.post(info, [spend], store)
    eid = entry_id(made.id)
    return ({"entry": eid, "proposal": proposal["id"], "amount": amount},
            f"spent {money.format_amount(amount, info.currency)} on {proposal['title']}: {eid}",
            0)


def cmd_withdraw(home: Home, args: argparse.Namespace) -> Result:
    info = _group(home, args)
    with home.store(info) as store:
        view = _view(home, info, store)
        proposal = _find_proposal(view, args.proposal)
        if proposal["status"] != "open":
            raise BadInput(f"proposal {proposal['title']!r} is {proposal['status']}, not open")
        if proposal["author"] != home.identity().keys.id:
            raise BadInput("only the author of a proposal may withdraw it")
        (made,) = home.post(info, [msg.Withdraw(parse_entry_id(proposal["id"]))], store)
    eid = entry_id(made.id)
    return {"entry": eid, "proposal": proposal["id"]}, f"withdrew {proposal['title']}: {eid}", 0


def cmd_reverse(home: Home, args: argparse.Namespace) -> Result:
    info = _group(home, args)
    prefix = args.entry.strip()
    if not prefix:
        raise BadInput("an entry id must not be empty")
    prefix = prefix if prefix.startswith("%") else "%" + prefix
    with home.store(info) as store:
        me = home.feed_keys(info).public
        ledger = home.ledger(info, store)
        own = [
            (eid, message) for eid, message in ledger.messages_of(me)
            if isinstance(message, msg.Deposit | msg.Spend) and entry_id(eid).startswith(prefix)
        ]
        if len(own) != 1:
            what = "none" if not own else f"{len(own)}"
            raise BadInput(f"{what} of your deposits and spends has an id starting {args.entry!r}")
        target = own[0][0]
        if ledger.is_reversed(me, target):
            raise BadInput("that entry is already reversed")
        (made,) = home.post(info, [msg.Reverse(target, args.note)], store)
    eid = entry_id(made.id)
    return {"entry": eid, "reversed": entry_id(target)}, f"reversed {entry_id(target)}: {eid}", 0


def cmd_status(home: Home, args: argparse.Namespace) -> Result:
    info = _group(home, args)
    with home.store(info) as store:
        view = _view(home, info, store)
    return view, status_text(view), 0


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
        except Exception:
            keys = {}
    report = audit_mod.audit(args.path, keys)
    lines = [f"{'valid' if report['valid'] else 'INVALID'}: {report['feeds']} feeds, "
             f"{report['entries']} entries"]
    for err in report["errors"]:
        lines.append(f"  error {err['kind']} in {err['feed']} at {err['seq']}: {err['message']}")
    for fork in report["forks"]:
        lines.append(f"  fork in {fork['feed']} at {fork['seq']}")
    for grp in report["groups"]:
        lines.append(f"  group {grp['group'][:12]} state hash {grp['state_hash'] or '(no key)'}")
    return report, "\n".join(lines), 0 if report["valid"] else 3


def cmd_export(home: Home, args: argparse.Namespace) -> Result:
    groups = home.groups()
    if not groups:
        raise BadInput("this home belongs to no group: nothing to export")
    stores = [Store(home.paths.group_dir(g.id), g.id) for g in groups]
    try:
        counts = audit_mod.export(stores, args.out)
    finally:
        for store in stores:
            store.close()
    return counts, f"exported {counts['entries']} entries in {counts['feeds']} feeds", 0


def cmd_import(home: Home, args: argparse.Namespace) -> Result:
    found = audit_mod.collect(args.folder)
    mine = {g.id: g for g in home.groups()}
    received = duplicates = 0
    errors: list[dict[str, Any]] = []
    skipped = []
    for data in found:
        info = mine.get(data.group)
        if info is None:
            skipped.append(data.group.hex())
            continue
        errors.extend(data.errors)
        with home.store(info) as store:
            report = store.ingest(e for items in data.feeds.values() for e in items)
        received += len(report.accepted)
        duplicates += report.duplicates
        errors.extend(audit_mod._error_row(err) for err in report.errors)
    if not any(g in mine for g in (d.group for d in found)):
        raise BadInput(f"{args.folder} holds no group this home belongs to")
    result = {"received": received, "duplicates": duplicates, "errors": errors,
              "skipped_groups": skipped}
    text = f"received {received} entries ({duplicates} already here)"
    if errors:
        text += f"; refused {len(errors)}: " + "; ".join(e["message"] for e in errors[:3])
    return result, text, 1 if errors else 0


def cmd_reindex(home: Home, args: argparse.Namespace) -> Result:
    groups = home.groups()
    for info in groups:
        with home.store(info) as store:
            store.rebuild_index()
    return {"groups": len(groups)}, f"rebuilt the index of {len(groups)} groups", 0


def member_label(view: dict[str, Any], member: str) -> str:
    return str(view.get("member_names", {}).get(member) or member[:10])


__all__ = ["run", "member_label", "feed_id"]
