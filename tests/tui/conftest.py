"""Fixtures for the TUI tests: deterministic homes, and async tests run with asyncio."""

from __future__ import annotations

import asyncio
import inspect
from pathlib import Path

import pytest
from tui_homes import collective, simple, solo

from ssbmoney.app.home import GroupInfo, Home


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
