"""Fixtures for the TUI tests: deterministic homes and a way to wait for workers."""

from __future__ import annotations

import asyncio
import inspect
import io
from pathlib import Path

import pytest
from rich.console import Console
from textual.pilot import Pilot
from textual.worker import WorkerState
from tui_homes import collective, simple, solo

from ssbmoney.home import GroupInfo, Home


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """Run ``async def`` tests with asyncio.run (no asyncio plugin is installed)."""
    if not inspect.iscoroutinefunction(pyfuncitem.obj):
        return None
    names = pyfuncitem._fixtureinfo.argnames
    asyncio.run(pyfuncitem.obj(**{n: pyfuncitem.funcargs[n] for n in names}))
    return True


@pytest.fixture
def solo_home(tmp_path: Path) -> tuple[Home, GroupInfo]:
    return solo(tmp_path / "home")


@pytest.fixture
def simple_home(tmp_path: Path) -> tuple[Home, GroupInfo]:
    return simple(tmp_path / "home")


@pytest.fixture(scope="session")
def collective_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Built once per run (it takes a few dozen actions); tests get a copy."""
    base = tmp_path_factory.mktemp("collective")
    collective(base)
    return base / "ana"


@pytest.fixture
def collective_home(collective_template: Path, tmp_path: Path) -> tuple[Home, GroupInfo]:
    import shutil

    from tui_homes import fixed_clock

    root = tmp_path / "ana"
    shutil.copytree(collective_template, root)
    home = Home(root, clock=fixed_clock)
    return home, home.group()


async def settle(pilot: Pilot[None], pauses: int = 100) -> None:
    """Wait until no worker is pending or running (a finished action starts a
    refresh, so this loops), then let the screen update."""
    app = pilot.app
    for _ in range(pauses):
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        busy = [w for w in app.workers if w.state in (WorkerState.PENDING, WorkerState.RUNNING)]
        if not busy:
            return
    raise AssertionError("workers did not finish")


def screen_text(pilot: Pilot[None]) -> str:
    """What the terminal shows, as plain text (as ``App.export_screenshot`` renders
    it, but exported as text instead of SVG)."""
    app = pilot.app
    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), force_terminal=True,
                      record=True, legacy_windows=False, safe_box=False)
    console.print(app.screen._compositor.render_update(
        full=True, screen_stack=app._background_screens))
    return console.export_text()
