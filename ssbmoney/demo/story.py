"""The demo group's story: who the five members are and what they do, week by week.

Played by ``ssbmoney.demo.generate`` from fixed seeds and a fixed, injected clock.
The members work in homes of their own and only "meet" now and then (a weekly call,
co-working, a train): a meeting is a sync, simulated by each member ingesting the
others' entries, so closes name different cuts and one offline vote arrives late.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from contextlib import ExitStack
from pathlib import Path

from ssbmoney.app.actions import Session
from ssbmoney.app.home import GroupInfo, Home
from ssbmoney.core import content as msg
from ssbmoney.core.entry import entry_id, parse_entry_id
from ssbmoney.core.group import Invite
from ssbmoney.store.group_store import Store

GROUP_NAME = "Alder Dev Collective"
CURRENCY = "EUR"
NAMES = ("Ana", "Bea", "Cem", "Dara", "Eli")
SEED_LABEL = b"ssbmoney demo v1 (PUBLIC TEST KEY, never use for real money): "
DEMO_WARNING = (
    "DEMO ONLY. This identity seed is public: it is published with ssbmoney so that "
    "anyone can try the demo as this member. Never use it for real money."
)
# Times are Berlin winter time (the story ends before the switch to summer time).
TZ = dt.timezone(dt.timedelta(hours=1), "CET")
YEAR = 2025


def member_seed(name: str) -> bytes:
    """A demo member's identity seed: fixed, and public."""
    return hashlib.sha256(SEED_LABEL + b"identity " + name.encode()).digest()


def group_secret() -> bytes:
    return hashlib.sha256(SEED_LABEL + b"group secret").digest()


# ----------------------------------------------------------------------- the world


class _Clock:
    """The one simulated wall clock every demo home reads (ms since the epoch)."""

    def __init__(self) -> None:
        self.now = 0

    def set(self, when: str) -> None:
        """``"03-05 18:05"``: month-day hour:minute of the demo year, Berlin time."""
        stamp = dt.datetime.strptime(f"{YEAR}-{when}", "%Y-%m-%d %H:%M").replace(tzinfo=TZ)
        ms = int(stamp.timestamp()) * 1000
        if ms < self.now:
            raise ValueError(f"the demo clock may not go back (to {when})")
        self.now = ms

    def __call__(self) -> int:
        return self.now


class _Member:
    """One demo member on their own laptop: a home, and once in the group, a session."""

    def __init__(self, name: str, root: Path, clock: _Clock) -> None:
        self.name = name
        self.home = Home(root, clock)
        self.identity = self.home.init(name, seed=member_seed(name))
        self._session: Session | None = None

    def enter(self, info: GroupInfo, stack: ExitStack) -> None:
        store = stack.enter_context(self.home.store(info))
        self._session = Session(self.home, info, store)

    @property
    def s(self) -> Session:
        assert self._session is not None, f"{self.name} is not in the group yet"
        return self._session

    @property
    def store(self) -> Store:
        return self.s.store

    def propose(self, title: str, amount: str, payee: str, category: str, closes: str) -> str:
        return entry_id(self.s.propose(title, amount, payee, category, closes).id)

    def vote(self, proposal: str, choice: str, comment: str = "") -> None:
        self.s.vote(proposal, choice, comment)

    def close(self, proposal: str, expect: str) -> None:
        _made, after = self.s.close(proposal)
        if after["status"] != expect:
            raise AssertionError(f"{after['title']!r} was {after['status']}, not {expect}")


class World:
    def __init__(self, root: Path, stack: ExitStack) -> None:
        self.clock = _Clock()
        self.stack = stack
        self.people = {
            name: _Member(name, root / name.lower(), self.clock) for name in NAMES
        }
        self.invite: Invite | None = None

    def at(self, when: str) -> None:
        self.clock.set(when)

    def found(self, founder: str) -> GroupInfo:
        ana = self.people[founder]
        others = [m.identity.keys.public for m in self.people.values() if m is not ana]
        info = ana.home.create_group(GROUP_NAME, CURRENCY, others, secret=group_secret())
        ana.enter(info, self.stack)
        self.invite = ana.home.invite(info)
        return info

    def join(self, name: str) -> None:
        assert self.invite is not None
        member = self.people[name]
        member.enter(member.home.join_group(self.invite), self.stack)

    def meet(self, *names: str) -> None:
        """A call or a table: everyone present ends up holding what anyone present held."""
        present = [self.people[n] for n in names]
        everything = [e for m in present for e in m.store.all_entries()]
        for member in present:
            report = member.store.ingest(everything)
            if report.errors or report.forks:
                raise AssertionError(f"demo sync failed for {member.name}: {report}")


def play(w: World) -> None:
    """Four weeks of the Alder Dev Collective. Times are Berlin time, March 2025."""
    ana, bea, cem, dara, eli = (w.people[n] for n in NAMES)

    # ---- Week 1: the grant arrives, the first sprint and a server are decided.
    w.at("03-03 10:00")
    info = w.found("Ana")
    w.at("03-03 10:05")
    ana.s.deposit("6000.00", "Commons Tech Fund grant, tranche 1 of 3")
    w.at("03-03 10:40")
    w.join("Bea")
    w.at("03-03 11:15")
    w.join("Cem")
    w.at("03-03 13:30")
    w.join("Dara")
    w.at("03-03 14:00")
    w.meet("Ana", "Bea", "Cem", "Dara")  # kickoff call; Eli is still travelling
    w.at("03-03 14:20")
    wages1 = cem.propose("Sprint 1 wages: 4 people x 20 h at EUR 40", "3200.00",
                         "Ana, Bea, Cem, Dara", "wages", "2025-03-05T19:00+01:00")
    w.at("03-03 14:35")
    server = dara.propose("Server for our pub and CI, 12 months", "240.00",
                          "Hetzner", "infrastructure", "2025-03-07T12:00+01:00")
    w.at("03-03 16:10")
    mistake = bea.s.deposit("6000.00", "Grant tranche 1 arrived")
    w.at("03-04 08:45")
    w.join("Eli")  # on the train, offline
    w.at("03-04 11:00")
    w.meet("Ana", "Cem")  # co-working
    w.at("03-04 11:10")
    ana.vote(wages1, "yes", "Good scope for two weeks.")
    w.at("03-04 11:12")
    cem.vote(wages1, "yes")
    w.at("03-04 12:00")
    dara.vote(server, "yes", "Cheapest box that runs the pub and our CI.")

    w.at("03-05 18:00")
    w.meet(*NAMES)  # weekly call
    w.at("03-05 18:05")
    bea.vote(wages1, "yes")
    w.at("03-05 18:06")
    dara.vote(wages1, "yes")
    w.at("03-05 18:07")
    eli.vote(wages1, "abstain", "I'm not in this sprint; fine by me.")
    w.at("03-05 18:10")
    ana.vote(server, "yes")
    w.at("03-05 18:11")
    bea.vote(server, "no", "Could we run it on the Raspberry Pi in Ana's flat instead?")
    w.at("03-05 18:12")
    cem.vote(server, "abstain", "No strong opinion on hosting.")
    w.at("03-05 18:20")
    booth = eli.propose("Booth at the Co-op Tech Summit", "1200.00",
                        "Co-op Tech Summit", "outreach", "2025-03-14T17:00+01:00")
    w.at("03-05 18:30")
    bea.vote(server, "yes", "The Pi is on a home line with no backups. Changing to yes.")
    w.at("03-05 18:40")
    w.meet(*NAMES)  # end of the call
    w.at("03-05 18:45")
    cem.close(wages1, "approved")
    w.at("03-05 21:00")
    w.meet("Cem", "Dara")  # same flat, same wifi
    w.at("03-06 07:50")
    dara.close(server, "approved")  # on the early train, offline
    w.at("03-06 07:55")
    dara.s.spend(server, "240.00", "Hetzner", "CX22, 12 months, invoice R-2025-0311")
    w.at("03-06 09:30")
    # Eli has not seen Dara's close: this vote is written after it, outside its cut.
    eli.vote(server, "no", "I could host it on my home server for free.")
    w.at("03-06 09:31")
    eli.vote(booth, "yes", "Most of the co-ops we want to reach will be there.")
    w.at("03-07 15:00")
    w.meet("Ana", "Eli")

    # ---- Week 2: travel, a chat tool, the booth, a laptop.
    w.at("03-10 09:30")
    travel = bea.propose("Train to the Co-op Tools Gathering in Ghent (Bea, Cem)", "380.00",
                         "Bea, Cem", "travel", "2025-03-12T19:00+01:00")
    w.at("03-10 10:15")
    slack = ana.propose("Slack Pro for our chat, 5 seats, 12 months", "525.00",
                        "Slack", "tools", "2025-03-12T19:00+01:00")
    w.at("03-10 11:00")
    laptop = eli.propose("Second-hand laptop for Eli", "450.00",
                         "Eli", "hardware", "2025-03-19T19:00+01:00")
    w.at("03-12 18:00")
    w.meet(*NAMES)  # weekly call
    w.at("03-12 18:05")
    bea.vote(travel, "yes")
    ana.vote(travel, "yes", "Say hello to the Ghent people from us.")
    cem.vote(travel, "yes")
    dara.vote(travel, "yes")
    eli.vote(travel, "abstain")
    w.at("03-12 18:10")
    ana.vote(slack, "yes", "We keep losing threads in the mailing list.")
    bea.vote(slack, "yes")
    dara.vote(slack, "yes")
    eli.vote(slack, "no", "Yet another silo.")
    cem.vote(slack, "block", "We said no proprietary silos. Matrix does this already.")
    w.at("03-12 18:15")
    ana.vote(booth, "no", "Too expensive for a two-week experiment.")
    bea.vote(booth, "no")
    cem.vote(booth, "no", "Let's go as visitors first.")
    dara.vote(booth, "abstain")
    w.at("03-12 18:20")
    dara.vote(laptop, "yes")
    w.at("03-12 18:25")
    bea.s.reverse(entry_id(mistake.id),
                  "Entered twice: Ana had already recorded tranche 1.")
    w.at("03-12 18:40")
    w.meet(*NAMES)  # end of the call
    w.at("03-12 18:45")
    bea.close(travel, "approved")
    w.at("03-13 08:30")
    w.meet("Ana", "Bea", "Cem")  # co-working
    w.at("03-13 09:00")
    ana.close(slack, "rejected")  # Cem's block vetoes it
    w.at("03-13 10:20")
    bea.s.spend(travel, "212.40", "Deutsche Bahn", "Bea, Berlin-Ghent return")
    w.at("03-14 15:50")
    eli.s.deposit("150.00", "Donations from the Leipzig workshop")
    w.at("03-14 16:00")
    eli.close(booth, "rejected")

    # ---- Week 3: on the way to Ghent; wages paid; the second sprint proposed.
    w.at("03-17 08:30")
    w.meet("Bea", "Cem")  # on the train to Ghent
    w.at("03-17 09:15")
    # The saver fares were gone: Cem records what he really paid. The command line
    # would refuse it (it is over what is left), so it is written past that check;
    # the ledger keeps it and flags the overspend, it does not hide it.
    cem.home.post(info, [msg.Spend(
        parse_entry_id(travel), 19860, "Deutsche Bahn",
        "Cem, Berlin-Ghent return: the saver fares were gone when I booked.",
    )], cem.store)
    w.at("03-17 09:40")
    ana.s.deposit("4000.00", "Commons Tech Fund grant, tranche 2 of 3")
    w.at("03-17 10:00")
    for payee in ("Ana", "Bea", "Cem"):
        ana.s.spend(wages1, "800.00", payee, "Sprint 1 wages, 20 h")
    w.at("03-17 11:00")
    wages2 = cem.propose("Sprint 2 wages: 4 people x 20 h at EUR 40", "3200.00",
                         "Bea, Cem, Dara, Eli", "wages", "2025-03-31T19:00+02:00")
    w.at("03-17 11:02")
    w.meet("Bea", "Cem")  # still on the train: a sync over the phone's hotspot
    w.at("03-17 11:05")
    bea.vote(wages2, "yes")
    w.at("03-19 18:00")
    w.meet(*NAMES)  # weekly call
    w.at("03-19 18:05")
    eli.s.withdraw(laptop)  # the grant does not cover hardware
    w.at("03-19 18:10")
    ana.vote(wages2, "yes")
    dara.vote(wages2, "abstain", "I may be away for half of it.")
    w.at("03-19 18:15")
    accountant = dara.propose("Accountant for the grant's year-end report", "450.00",
                              "Kasse & Co. bookkeeping", "admin", "2025-04-02T19:00+02:00")
    w.at("03-19 18:40")
    w.meet(*NAMES)  # end of the call

    # ---- Week 4: a vote changed after talking it through; two proposals still open.
    w.at("03-24 10:00")
    bea.vote(accountant, "yes", "Worth it: the fund wants a proper report.")
    w.at("03-25 20:15")
    eli.vote(wages2, "no", "Can we talk about the hourly rate first?")
    w.at("03-26 18:00")
    w.meet(*NAMES)  # weekly call
    w.at("03-26 18:20")
    eli.vote(wages2, "yes", "Talked it through on the call; fine now.")
    w.at("03-26 18:40")
    w.meet(*NAMES)  # end of the call


# ----------------------------------------------------------------------- writing
