"""How the TUI words things: amounts, names, claimed times, warnings.

Kept in one place (and free of Textual) so every widget says the same thing the same
way, and so the wording can be tested without running an app. Warning kinds are the
fold's stable, machine-readable names; people get a sentence instead.
"""

from __future__ import annotations

from typing import Any

from ssbmoney.app.dates import when
from ssbmoney.core.money import format_amount

WARNINGS: dict[str, str] = {
    "overspend": "overspend: more was spent than the proposal approved",
    "unapproved_spend": "spend on a proposal that is not approved",
    "late_vote": "late vote: cast after the close it missed, not counted",
    "non_member": "entry from someone who is not a member, not counted",
    "fork": "forked feed: two versions of one member's history; their money counts on"
            " both, their votes not where the fork is seen",
    "second_feed": "a second feed for one member: their money counts on both, their votes"
                   " not where both are seen",
    "duplicate_close": "a close that came after another close, changes nothing",
    "contested_close": "contested: first closes (or a withdrawal) disagree, so it is rejected",
    "close_pending": "a close waiting for entries this home lacks, not counted yet",
    "invalid_close": "a close that names entries wrongly (or its author was not a member"
                     " in its own past), ignored",
    "late_withdrawal": "a withdrawal written after a close, ignored",
    "bad_join": "a feed whose first entry does not tie it to a member",
    "misplaced_found": "a founding entry out of place, ignored",
    "misplaced_join": "a join entry out of place, ignored",
    "bad_content": "an entry whose content cannot be read, recorded and ignored",
    "total_overflow": "a total too large to show exactly, shown at its limit",
    "admission_request": "asks to be admitted: vote with `ssbmoney vote ID yes` (it shows"
                         " with the proposals once a member has voted)",
}


def money(minor: int, currency: str) -> str:
    return f"{format_amount(minor, currency)} {currency}"


def amount(view: dict[str, Any], proposal: dict[str, Any]) -> str:
    """A proposal's amount; an admission has none: it says whom it admits."""
    if proposal.get("amount") is None:
        return f"admits {name_of(view, proposal.get('add_member'))}"
    return money(int(proposal["amount"]), str(view.get("currency", "")))


def left(proposal: dict[str, Any]) -> int:
    """What an approved proposal may still spend (0 for an admission)."""
    return int(proposal["amount"] or 0) - int(proposal["spent"])


def claimed_key(proposal: dict[str, Any]) -> int:
    """For sorting by claimed time: a claimed time too large to show sorts first."""
    return int(proposal.get("claimed_ms") or 0)


def short(ident: str | None, size: int = 8) -> str:
    """``@AbCd…`` : enough of an id to tell members apart on screen."""
    if not ident:
        return "?"
    return ident[: size + 1] + "…"


def name_of(view: dict[str, Any], ident: str | None, me: str = "") -> str:
    if ident is None:
        return "?"
    name = view.get("member_names", {}).get(ident) or short(ident)
    return f"{name} (you)" if ident == me else name


def claimed(ms: int | None) -> str:
    """A time someone's device claimed: shown, never trusted to decide anything."""
    return when(ms) if ms else "-"


def voters(view: dict[str, Any], proposal: dict[str, Any]) -> str:
    """Who voted what, by name (sorted here: the view's dict order is not a promise)."""
    votes: dict[str, str] = proposal.get("votes", {})
    named = sorted((name_of(view, who).casefold(), who, choice) for who, choice in votes.items())
    return ", ".join(f"{name_of(view, who)} {choice}" for _key, who, choice in named) or "-"


def tally(proposal: dict[str, Any]) -> str:
    return "{yes}/{no}/{abstain}/{block}".format(**proposal)


def turnout(view: dict[str, Any] | None, proposal: dict[str, Any]) -> str:
    """How many members voted against the quorum (the rule's default when unset)."""
    voted = sum(proposal[c] for c in ("yes", "no", "abstain", "block"))
    if view is None:
        return f"{voted} voted"
    members = len(view["members"])
    quorum = (view.get("rules") or {}).get("quorum") or members // 2 + 1
    return f"{voted} of {members} members voted, quorum {quorum}"


def status(proposal: dict[str, Any]) -> str:
    return "withdrawn" if proposal["withdrawn"] else str(proposal["status"])


def warning(view: dict[str, Any], item: dict[str, Any]) -> str:
    """One warning as a sentence naming what it is about."""
    kind = str(item.get("kind", ""))
    text = WARNINGS.get(kind, kind.replace("_", " "))
    if "entry" in item:
        ref = str(item["entry"])
        titles = {p["id"]: p["title"] for p in view.get("proposals", [])}
        where = f'proposal "{titles[ref]}"' if ref in titles else f"entry {short(ref, 10)}"
    else:
        where = f"feed {short(str(item.get('feed', '')), 10)}"
    members = item.get("members")
    if isinstance(members, list) and members:
        where += ", by " + ", ".join(name_of(view, str(m)) for m in members)
    elif "member" in item:
        where += f", {name_of(view, str(item['member']))}"
    return f"{text} ({where})"
