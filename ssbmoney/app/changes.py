"""What an import (later: a sync) changed in the outcomes this home had shown.

A member who saw "approved" must not find "rejected" later with no word anywhere:
``outcome_changes`` compares the proposals of two views and says, for each outcome
that changed, from what to what and why (a contested close, a withdrawal, a close
that arrived or could now be decided).
"""

from __future__ import annotations

from typing import Any


def _status(row: dict[str, Any]) -> str:
    return "withdrawn" if row.get("withdrawn") else str(row["status"])


def outcome_changes(before: dict[str, Any], after: dict[str, Any]) -> list[dict[str, Any]]:
    """``[{proposal, title, from, to, reason}]`` for every proposal whose outcome
    differs between two views of one group (``from`` is null for one not shown before)."""
    old = {row["id"]: row for row in before.get("proposals", [])}
    for warning in before.get("warnings", []):  # asked to be admitted: shown as open
        if warning.get("kind") == "admission_request":
            old.setdefault(warning["entry"], {"status": "open", "withdrawn": False})
    names = after.get("member_names", {})
    contested = {w["entry"]: w for w in after.get("warnings", [])
                 if w.get("kind") == "contested_close"}
    changed = []
    for row in after.get("proposals", []):
        was = old.get(row["id"])
        if was is not None and _status(was) == _status(row):
            continue
        if was is None and row["status"] == "open":
            continue  # a new proposal: nothing was shown before
        if row["id"] in contested:
            who = ", ".join(names.get(m, m[:10]) for m in contested[row["id"]]["members"])
            reason = f"contested: first closes or a withdrawal disagree ({who})"
        elif row.get("withdrawn"):
            reason = "its author withdrew it before any close saw otherwise"
        elif was is None or was["status"] == "open":
            reason = "a close arrived"
        else:
            reason = "a close that was waiting for entries could be decided"
        changed.append({"proposal": row["id"], "title": row["title"],
                        "from": _status(was) if was is not None else None,
                        "to": _status(row), "reason": reason})
    return changed
