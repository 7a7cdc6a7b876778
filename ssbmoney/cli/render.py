"""Plain-text renderings of the budget view, for the command line."""

from __future__ import annotations

from typing import Any

from ssbmoney.core.money import format_amount

WARNINGS_SHOWN = 3
"""Warnings listed per kind in the human form; the rest are counted (``--json`` has all)."""


def status_text(view: dict[str, Any], every: bool = False) -> str:
    """Totals, open proposals (``every``: all of them), warnings summarised by kind."""
    cur = view["currency"]

    def amt(minor: int) -> str:
        return f"{format_amount(minor, cur)} {cur}"

    names = view.get("member_names", {})
    lines = [
        f"{view['name'] or '(group not yet synced)'}  [{view['group'][:12]}]",
        f"balance    {amt(view['balance'])}",
        f"deposited  {amt(view['deposited'])}",
        f"spent      {amt(view['spent'])}",
        f"committed  {amt(view['committed'])}",
        f"available  {amt(view['available'])}",
        f"members    {', '.join(sorted(names.get(m, m[:10]) for m in view['members'])) or '-'}",
        "",
    ]
    order = {"open": 0, "approved": 1, "rejected": 2}
    rows = sorted(view["proposals"], key=lambda p: (order[p["status"]], -(p["claimed_ms"] or 0)))
    decided = [p for p in rows if p["status"] != "open"]
    if not every:
        rows = [p for p in rows if p["status"] == "open"]
    if rows:
        lines.append("proposals" if every else "open proposals")
    for p in rows:
        status = "withdrawn" if p["withdrawn"] else p["status"]
        spent = f", spent {amt(p['spent'])}" if p["spent"] else ""
        shown = amt(p["amount"]) if p["amount"] is not None else "admission"
        admits = p.get("add_member")
        title = f"{p['title']} (admits {names.get(admits, admits)})" if admits else p["title"]
        lines.append(
            f"  {p['id'][:9]}  {status:9} {shown:>14}  {title}"
            f"  (yes {p['yes']} no {p['no']} abstain {p['abstain']} block {p['block']}{spent})"
        )
    if decided and not every:
        lines.append(f"  ({len(decided)} decided: `ssbmoney status --all` lists them)")
    if view["warnings"]:
        lines.append("")
        lines.append(f"warnings ({len(view['warnings'])})")
        by_kind: dict[str, list[dict[str, Any]]] = {}
        for w in view["warnings"]:
            by_kind.setdefault(w["kind"], []).append(w)
        for kind, found in by_kind.items():
            for w in found[:WARNINGS_SHOWN]:
                about = str(w.get("entry") or w.get("feed") or "")
                who = w.get("member")
                extra = f" ({names.get(who, who)})" if who else ""
                if kind == "admission_request":
                    extra = f" ({w.get('title', '')}; vote with `ssbmoney vote {about[:10]} yes`)"
                lines.append(f"  {kind}: {about}{extra}")
            if len(found) > WARNINGS_SHOWN:
                lines.append(f"  ... and {len(found) - WARNINGS_SHOWN} more {kind}"
                             " (`ssbmoney status --json` lists every warning)")
    lines.append("")
    lines.append(f"state hash {view['state_hash']}")
    return "\n".join(lines)
