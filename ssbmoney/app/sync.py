"""Syncing a member's home: with one peer, with every known peer, or live.

For each peer, every group of this home is offered (one session each); a peer that
does not hold a group answers like a stranger would, and that group is simply not
shared. A sync that changed what this home had shown — an outcome decided, flipped by
a contested close, withdrawn — says so, with why (``changes.outcome_changes``).

Each group's known URLs live in its ``group.json`` (an invite carries them); when
each was last synced, and its last error, in ``peers.json`` beside it — never in the
view that the state hash covers.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ssbmoney.app.changes import outcome_changes
from ssbmoney.app.home import GroupInfo, Home, write_private
from ssbmoney.core.errors import BadInput, StoreError
from ssbmoney.core.ledger import Ledger
from ssbmoney.core.session import session_psk
from ssbmoney.net.client import check_url, sync_group
from ssbmoney.net.peer import Endpoint, Outcome, Progress


def endpoint(home: Home, info: GroupInfo) -> Endpoint:
    return Endpoint(info.id, session_psk(info.keys.sync_cap), home.feed_keys(info),
                    home.paths.group_dir(info.id), info.name, founder=info.keys.founder)


def endpoints(home: Home) -> list[Endpoint]:
    return [endpoint(home, info) for info in home.groups()]


# ---------------------------------------------------------------------- known peers


def peer_records(home: Home, info: GroupInfo) -> dict[str, dict[str, Any]]:
    path = home.paths.peers_file(info.id)
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text())
        return {str(url): dict(record) for url, record in data.items()}
    except (ValueError, TypeError, AttributeError) as err:
        raise StoreError(f"peers file {path} is damaged: {err}") from None


def remember(home: Home, info: GroupInfo, url: str, when_ms: int | None, error: str) -> None:
    records = peer_records(home, info)
    record = records.setdefault(url, {"last_sync": None, "last_error": None})
    if error:
        record["last_error"] = error
    else:
        record["last_sync"], record["last_error"] = when_ms, None
    write_private(home.paths.peers_file(info.id), records)


def add_url(home: Home, info: GroupInfo, url: str) -> GroupInfo:
    url = check_url(url)
    if url not in info.urls:
        info = info._replace(urls=(*info.urls, url))
        home.save_group(info)
    return info


def remove_url(home: Home, info: GroupInfo, url: str) -> GroupInfo:
    wanted = url.strip().rstrip("/")
    try:
        wanted = check_url(url)
    except BadInput:
        pass  # a URL stored before it was checked: remove it as written
    if wanted not in info.urls:
        raise BadInput(f"{url!r} is not among this group's known URLs"
                       " (`ssbmoney group urls list`)")
    info = info._replace(urls=tuple(u for u in info.urls if u != wanted))
    home.save_group(info)
    return info


def url_list(home: Home, info: GroupInfo) -> list[dict[str, Any]]:
    records = peer_records(home, info)
    return [{"url": url, "last_sync": records.get(url, {}).get("last_sync"),
             "last_error": records.get(url, {}).get("last_error")} for url in info.urls]


# ---------------------------------------------------------------------------- sync


@dataclass
class PeerResult:
    url: str
    outcomes: list[tuple[GroupInfo, Outcome]] = field(default_factory=list)

    @property
    def shared(self) -> list[tuple[GroupInfo, Outcome]]:
        return [(i, o) for i, o in self.outcomes if o.kind != "not_shared"]

    @property
    def error(self) -> str:
        shared = self.shared
        if not shared:
            errors = {o.error for _, o in self.outcomes if o.kind != "not_shared"}
            return "; ".join(sorted(errors)) or "the peer shares none of this home's groups"
        return "; ".join(f"{i.name}: {o.error}" for i, o in shared if o.error)


RETRY_FIRST = 2.0
RETRY_MAX = 60.0


def _added(total: Outcome | None, attempt: Outcome) -> Outcome:
    """Several attempts of one live link as one outcome: counts added, the last error."""
    if total is None:
        return attempt
    total.received += attempt.received
    total.sent += attempt.sent
    total.caught_up = total.caught_up or attempt.caught_up
    total.refused += attempt.refused
    total.error, total.kind = attempt.error, attempt.kind
    total.peer = attempt.peer or total.peer
    return total


async def keep_live(home: Home, info: GroupInfo, url: str, stop: asyncio.Event,
                    progress: Callable[[Progress], None] | None = None,
                    notify: Callable[[str], None] | None = None) -> Outcome:
    """One group's live link to one peer until ``stop``, reconnecting when it is lost
    (after 2 s, doubling to a minute; at once after a link that had caught up). Each
    attempt's last sync is remembered; the result adds up the attempts, and counts as
    ok when stopped by the user after catching up."""
    delay, total = RETRY_FIRST, None
    while True:
        attempt = await sync_group(url, endpoint(home, info), home.checked_clock,
                                   live=True, stop=stop, progress=progress)
        total = _added(total, attempt)
        if attempt.kind == "not_shared":
            break
        remember(home, info, url, home.clock() if not attempt.error else None, attempt.error)
        if stop.is_set():
            break
        delay = RETRY_FIRST if attempt.caught_up else min(delay * 2, RETRY_MAX)
        if notify is not None:
            notify(f"{info.name}: lost {url} ({attempt.error or 'closed'});"
                   f" trying again in {delay:.0f} s")
        try:
            await asyncio.wait_for(stop.wait(), delay)
        except TimeoutError:
            pass
    if total.caught_up and stop.is_set():
        total.error, total.kind = "", ""  # stopped by the user after catching up
    return total


def _views_around(home: Home, info: GroupInfo, offset: int) -> list[dict[str, Any]]:
    """What changed in the outcomes with the entries stored after ``offset``."""
    with home.store(info) as store:
        new, _ = store.read_from(offset)
        if not new:
            return []
        fresh = {e.id for e in new}
        ledger = Ledger(info.keys, info.currency)
        ledger.add_all(e for e in store.all_entries() if e.id not in fresh)
        before = ledger.view()
        ledger.add_all(new)
        return outcome_changes(before, ledger.view())


async def sync_peers(home: Home, urls: Sequence[str], *, live: bool = False,
                     stop: asyncio.Event | None = None,
                     progress: Callable[[Progress], None] | None = None,
                     notify: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Sync every group of this home with each URL (concurrently); the ``sync --json``
    report, with ``error`` when any peer failed. ``notify`` hears of lost links."""
    groups = home.groups()
    if not groups:
        home.group()  # says what to do first
    offsets: dict[bytes, int] = {}
    for info in groups:
        with home.store(info) as store:
            offsets[info.id] = store.end()
    results, bad = [], []
    for url in urls:
        try:
            results.append(PeerResult(check_url(url)))
        except BadInput as err:  # e.g. carried by an invite: the others still sync
            bad.append({"url": url, "ok": False, "error": err.message, "refused": []})

    async def one(result: PeerResult, info: GroupInfo) -> None:
        if live and stop is not None:
            outcome = await keep_live(home, info, result.url, stop, progress, notify)
        else:
            outcome = await sync_group(result.url, endpoint(home, info), home.checked_clock,
                                       stop=stop, progress=progress)
            if outcome.kind != "not_shared":
                remember(home, info, result.url,
                         home.clock() if not outcome.error else None, outcome.error)
        result.outcomes.append((info, outcome))

    await asyncio.gather(*(one(r, info) for r in results for info in groups))
    by_group: dict[bytes, dict[str, Any]] = {}
    for result in results:
        for info, outcome in result.shared:
            row = by_group.setdefault(info.id, {"group": info.id.hex(), "name": info.name,
                                                "received": 0, "sent": 0})
            row["received"] += outcome.received
            row["sent"] += outcome.sent
    changed: list[dict[str, Any]] = []
    for info in groups:
        changed += _views_around(home, info, offsets[info.id])
    peers = [{"url": r.url, "ok": not r.error, "error": r.error or None,
              "refused": [x for _, o in r.shared for x in o.refused]} for r in results] + bad
    report: dict[str, Any] = {
        "received": sum(g["received"] for g in by_group.values()),
        "sent": sum(g["sent"] for g in by_group.values()),
        "groups": list(by_group.values()), "changed": changed, "peers": peers,
    }
    failed = [p for p in peers if not p["ok"]]
    if failed:
        report["error"] = {"kind": "sync_failed", "message": "; ".join(
            f"{p['url']}: {p['error']}" for p in failed)}
    return report


def known_urls(home: Home, selector: str | None = None) -> list[str]:
    groups = [home.group(selector)] if selector else home.groups()
    urls = list(dict.fromkeys(u for info in groups for u in info.urls))
    if not urls:
        raise BadInput("no known peers or pubs: give a URL (`ssbmoney sync URL`) or add one"
                       " (`ssbmoney group urls add URL`)")
    return urls
