"""The TUI's window on one group's store: cheap change checks, incremental refolds.

Why this exists apart from the widgets: other processes (a CLI ``vote``, ``serve``,
``sync``) append to the same home while the TUI runs, so the TUI must notice their
entries without a key press, yet a 100,000-entry group must not be refolded from
scratch every second. So:

* :meth:`Live.signature` is one ``stat`` per log file: size, mtime and inode. It is
  cheap enough to call from the UI thread on every poll tick.
* :meth:`Live.refresh` keeps one :class:`~ssbmoney.ledger.Ledger` alive and feeds it
  only the entries of feeds whose heads moved since the last look (the ledger keeps
  per-feed summaries, so only those feeds are summarised again). A log that shrank
  or was replaced means a full reload.
* The store is opened only for the length of one refresh or one action, so the
  TUI never holds files or the write lock between them.

Nothing here knows Textual; it is called from worker threads, and one lock keeps
the ledger's state to one thread at a time.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple, TypeVar

from ssbmoney.app.actions import Session
from ssbmoney.app.home import GroupInfo, Home
from ssbmoney.core.entry import Entry
from ssbmoney.core.ledger import Ledger
from ssbmoney.store.group_store import FORKS_NAME, LOG_NAME, Store

T = TypeVar("T")

Signature = tuple[tuple[int, int, int] | None, tuple[int, int, int] | None]
"""(entries.log, forks.log) as (size, mtime_ns, inode), or None where missing."""


class Stopped(Exception):
    """Raised by a refresh that :meth:`Live.stop` interrupted (the TUI is closing)."""


class Shown(NamedTuple):
    """One folded view, numbered so a late worker never replaces a newer view."""

    generation: int
    view: dict[str, Any]


def _stat(path: os.PathLike[str] | str) -> tuple[int, int, int] | None:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return (st.st_size, st.st_mtime_ns, st.st_ino)


class Live:
    """One member's live view of one group."""

    def __init__(self, home: Home, info: GroupInfo) -> None:
        self.home = home
        self.info = info
        self.directory = home.paths.group_dir(info.id)
        self.me = home.identity().keys.id
        self._lock = threading.Lock()
        self._ledger = Ledger(info.keys, info.currency)
        self._offset = 0
        self._seen: Signature = (None, None)
        self._generation = 0
        self._stopped = threading.Event()

    def stop(self) -> None:
        """Make a running refresh give up soon, so quitting never waits for a fold."""
        self._stopped.set()

    # ------------------------------------------------------------------ polling

    def signature(self) -> Signature:
        return (_stat(self.directory / LOG_NAME), _stat(self.directory / FORKS_NAME))

    def changed(self) -> bool:
        """Whether the logs changed since the last refresh began (one stat each)."""
        return self.signature() != self._seen

    # ---------------------------------------------------------------- refolding

    def refresh(self) -> Shown:
        """Take in what is new in the store and fold; safe to call from any thread."""
        with self._lock:
            signature = self.signature()  # before reading: later writes show next time
            if self._shrank(signature):
                self._ledger = Ledger(self.info.keys, self.info.currency)
                self._offset = 0
            # Seen even if reading fails, so a broken store is reported once per
            # change rather than on every poll tick.
            self._seen = signature
            with self.home.store(self.info) as store:
                self._take_in(store)
            view = self._ledger.view()
            self._generation += 1
            return Shown(self._generation, view)

    def _shrank(self, signature: Signature) -> bool:
        old, new = self._seen[0], signature[0]
        if old is None:
            return False
        return new is None or new[0] < old[0] or new[2] != old[2]

    def _take_in(self, store: Store) -> None:
        entries, self._offset = store.read_from(self._offset)
        self._add(entries)

    def _add(self, entries: Iterable[Entry]) -> None:
        add, stopped = self._ledger.add, self._stopped.is_set
        for count, item in enumerate(entries):
            if count & 1023 == 0 and stopped():
                raise Stopped("the TUI is closing")
            add(item)

    # ------------------------------------------------------------------ acting

    def act(self, do: Callable[[Session], T]) -> T:
        """Run one action with the store open just for it (its lock serializes us
        with every other writer on this home)."""
        with self.home.store(self.info) as store:
            return do(Session(self.home, self.info, store))
