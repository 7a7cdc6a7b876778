"""Deterministic homes for the TUI tests: real keys from fixed seeds, a fixed clock.

The scenario follows the small collective of STORIES.md: three people share a grant,
propose payments, vote, close, and record a spend; one vote arrives after the close
it missed (a ``late_vote`` warning). Everything is written through the same
``Home``/``Session`` code the CLI uses, and the three homes exchange entries with
``Store.ingest`` as a sync would. Same seeds, same clock, same calls: the same
entry ids and state hash every run, so snapshots are stable.

Also usable by hand (``python tests/tui/tui_homes.py DIR``) to try the TUI.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from ssbmoney.app.actions import Session, find_proposal
from ssbmoney.app.home import GroupInfo, Home
from ssbmoney.core.entry import Entry, entry_id

FIXED_MS = 1_748_000_000_000  # 2025-05-23 11:33:20 UTC
ANA_SEED = b"\x01" * 32
GROUP_SECRET = b"\x02" * 32
BEN_SEED = b"\x03" * 32
CHLOE_SEED = b"\x04" * 32


class Tick:
    """A clock that moves one minute per reading, from ``FIXED_MS``: deterministic,
    yet entries get distinct, ordered claimed times."""

    def __init__(self, start: int = FIXED_MS) -> None:
        self.now = start

    def __call__(self) -> int:
        self.now += 60_000
        return self.now


def fixed_clock() -> int:
    return FIXED_MS


def sync(a: Home, b: Home, info: GroupInfo) -> None:
    """Both ways, as ``ssbmoney sync`` would: every entry validated on the way in."""
    with a.store(info) as sa, b.store(info) as sb:
        theirs = list(sb.all_entries())
        ours = list(sa.all_entries())
        sa.ingest(theirs)
        sb.ingest(ours)


@contextmanager
def sessions(info: GroupInfo, *homes: Home) -> Iterator[list[Session]]:
    """One Session per home, each on its own open store."""
    with ExitStack() as stack:
        yield [Session(h, info, stack.enter_context(h.store(info))) for h in homes]


def everyone(info: GroupInfo, hub: Home, *others: Home) -> None:
    for other in others:
        sync(hub, other, info)
    for other in others:
        sync(hub, other, info)


def solo(root: Path) -> tuple[Home, GroupInfo]:
    """Ana alone: an identity and a group, nothing else."""
    home = Home(root, clock=fixed_clock)
    home.init("Ana", seed=ANA_SEED)
    info = home.create_group("Collective", "EUR", secret=GROUP_SECRET)
    return home, info


def simple(root: Path) -> tuple[Home, GroupInfo]:
    """Ana alone with a deposit and one open proposal (quorum 1)."""
    home, info = solo(root)
    with home.store(info) as store:
        s = Session(home, info, store)
        s.deposit("1500.00", "grant, first tranche")
        s.propose("Server for a year", "120.00", "Hetzner", "infrastructure")
    return home, info


def collective(base: Path) -> tuple[Home, GroupInfo]:
    """Three members, every kind of row; returns Ana's home (``base / 'ana'``)."""
    clock = Tick()
    ana, ben, chloe = (Home(base / n, clock=clock) for n in ("ana", "ben", "chloe"))
    ana.init("Ana", seed=ANA_SEED)
    ben_id = ben.init("Ben", seed=BEN_SEED).keys.public
    chloe_id = chloe.init("Chloé", seed=CHLOE_SEED).keys.public
    info = ana.create_group("Collective", "EUR", [ben_id, chloe_id], secret=GROUP_SECRET)
    ben.join_group(ana.invite(info))
    chloe.join_group(ana.invite(info))

    with sessions(info, ana, ben) as (a, b):
        a.deposit("1500.00", "grant, first tranche")
        server = entry(a.propose("Server for a year", "120.00", "Hetzner", "infrastructure"))
        logo = entry(b.propose("New logo", "300.00", "Studio Nord", "design"))
    everyone(info, ana, ben, chloe)
    with sessions(info, ana, ben, chloe) as (a, b, c):
        a.vote(server, "yes")
        b.vote(server, "yes")
        c.vote(logo, "block")
        b.vote(logo, "yes")
    everyone(info, ana, ben, chloe)
    with sessions(info, ana, ben, chloe) as (a, b, c):
        a.close(server)
        b.close(logo)
        c.vote(server, "no")  # Chloé has not seen Ana's close yet: a late vote
        a.spend(server, "40.00", note="first quarter")
        wages = entry(b.propose("Sprint wages, week 1", "600.00", "Chloé", "wages",
                                closes="2025-06-01T18:00"))
        c.propose("Travel to the meeting", "180.00", "Rail", "travel")
    everyone(info, ana, ben, chloe)
    with sessions(info, ben, chloe) as (b, c):
        b.vote(wages, "yes")
        c.vote(wages, "abstain")
    everyone(info, ana, ben, chloe)
    return Home(base / "ana", clock=fixed_clock), info


def entry(made: Entry) -> str:
    return entry_id(made.id)


def proposal(home: Home, info: GroupInfo, title_prefix: str) -> dict[str, Any]:
    """The proposal whose title starts so, as a fresh fold of the home sees it."""
    view = home.ledger(info).view()
    (found,) = [p for p in view["proposals"] if p["title"].startswith(title_prefix)]
    return find_proposal(view, found["id"])


if __name__ == "__main__":
    built, group = collective(Path(sys.argv[1]))
    print(built.paths.root, group.id.hex())
