"""Live updates: what another Home object or process writes shows up by itself."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from textual.pilot import Pilot
from tui_homes import ANA_SEED, BEN_SEED, GROUP_SECRET, fixed_clock, proposal, sync
from tui_pilot import screen_text, settle

from ssbmoney.app.actions import Session
from ssbmoney.app.home import GroupInfo, Home
from ssbmoney.core.entry import entry_id
from ssbmoney.tui.app import BudgetApp
from ssbmoney.tui.budget import BudgetScreen
from ssbmoney.tui.live import Live

Fixture = tuple[Home, GroupInfo]
REPO = Path(__file__).resolve().parents[2]


async def wait_for(pilot: Pilot[None], done: object, timeout: float = 30.0) -> float:
    """Pause (no key presses) until ``done()`` holds; returns the seconds it took."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        await pilot.pause(0.02)
        if done():  # type: ignore[operator]
            return time.monotonic() - start
    raise AssertionError("the screen did not update by itself")


async def test_entry_from_another_home_object_appears_without_a_key_press(
    simple_home: Fixture,
) -> None:
    home, info = simple_home
    app = BudgetApp(home.paths.root, poll_seconds=0.05, clock=fixed_clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, BudgetScreen)
        generation = screen.generation
        # Another Home object on the same folder: what a CLI command does.
        other = Home(home.paths.root, clock=fixed_clock)
        with other.store(info) as store:
            Session(other, info, store).deposit("250.00", "a second grant")
        await wait_for(pilot, lambda: screen.view and screen.view["balance"] == 175_000)
        assert screen.generation == generation + 1  # one refold, not one per tick
        await pilot.pause(0.2)
        assert screen.generation == generation + 1  # nothing changed: no more refolds
        assert "1750.00 EUR" in screen_text(pilot)
        assert screen.view == Home(home.paths.root).ledger(info).view()


async def test_a_cli_vote_from_another_process_appears(simple_home: Fixture) -> None:
    home, info = simple_home
    me = home.identity().keys.id
    app = BudgetApp(home.paths.root, poll_seconds=0.05, clock=fixed_clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, BudgetScreen)
        pid = proposal(home, info, "Server")["id"]
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        subprocess.run(
            [sys.executable, "-m", "ssbmoney", "--home", str(home.paths.root),
             "vote", pid[1:10], "abstain"],
            check=True, env=env, capture_output=True,
        )

        def voted() -> bool:
            rows = [p for p in (screen.view or {}).get("proposals", []) if p["id"] == pid]
            return bool(rows) and rows[0]["votes"].get(me) == "abstain"

        await wait_for(pilot, voted)
        await pilot.pause()
        row = next(line for line in screen_text(pilot).splitlines() if "Server" in line)
        assert "0/0/1/0" in row and "Ana abstain" in row


async def test_a_synced_members_vote_appears(tmp_path: Path) -> None:
    """Entries of another member's feed arrive as a sync puts them in: validated and
    appended by ``Store.ingest`` in the same home, while the TUI runs."""
    ana = Home(tmp_path / "ana", clock=fixed_clock)
    ana.init("Ana", seed=ANA_SEED)
    ben = Home(tmp_path / "ben", clock=fixed_clock)
    ben_id = ben.init("Ben", seed=BEN_SEED).keys
    info = ana.create_group("Collective", "EUR", [ben_id.public], secret=GROUP_SECRET)
    with ana.store(info) as store:
        pid = entry_id(Session(ana, info, store).propose("Server", "120").id)
    ben.join_group(ana.invite(info))
    sync(ana, ben, info)
    app = BudgetApp(ana.paths.root, poll_seconds=0.05, clock=fixed_clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, BudgetScreen)
        assert "Ben  @" in screen_text(pilot)  # his join arrived with the first sync
        with ben.store(info) as store:
            Session(ben, info, store).vote(pid, "yes")
        sync(ana, ben, info)
        await wait_for(pilot, lambda: screen.view is not None and any(
            p["votes"].get(ben_id.id) == "yes" for p in screen.view["proposals"]))
        await pilot.pause()
        row = next(line for line in screen_text(pilot).splitlines() if "Server" in line)
        assert "Ben yes" in row and "1/0/0/0" in row


def test_live_refresh_is_incremental_and_equals_a_fresh_fold(simple_home: Fixture) -> None:
    home, info = simple_home
    live = Live(home, info)
    first = live.refresh()
    assert first.view == home.ledger(info).view()
    assert not live.changed()
    other = Home(home.paths.root, clock=fixed_clock)
    with other.store(info) as store:
        s = Session(other, info, store)
        s.vote(proposal(home, info, "Server")["id"], "yes")
        s.deposit("1.00")
    assert live.changed()
    second = live.refresh()
    assert second.generation == first.generation + 1
    assert second.view == home.ledger(info).view()
    assert second.view["state_hash"] != first.view["state_hash"]
    assert not live.changed()


def test_live_reloads_when_the_log_is_replaced(simple_home: Fixture, tmp_path: Path) -> None:
    """A log that shrank (a restored backup) is read again from scratch."""
    home, info = simple_home
    log = home.paths.group_dir(info.id) / "entries.log"
    backup = log.read_bytes()
    live = Live(home, info)
    live.refresh()
    with home.store(info) as store:
        Session(home, info, store).deposit("5.00")
    assert live.refresh().view["balance"] == 150_500
    index = home.paths.group_dir(info.id) / "index.sqlite"
    log.write_bytes(backup)
    for suffix in ("", "-wal", "-shm"):
        Path(str(index) + suffix).unlink(missing_ok=True)
    assert live.refresh().view == home.ledger(info).view()
    assert live.refresh().view["balance"] == 150_000
