"""The commands that talk to peers: serve, sync, group urls, pub host, pub serve."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

from ssbmoney.app import serve as serve_mod
from ssbmoney.app import sync as sync_mod
from ssbmoney.app.audit import count_of
from ssbmoney.app.home import Home, wall_clock_ms
from ssbmoney.app.pub import Pub
from ssbmoney.net.client import check_url
from ssbmoney.net.peer import Progress

Result = tuple[dict[str, Any], str, int]


def _until_stopped(work: Callable[[asyncio.Event], Awaitable[Any]]) -> Any:
    """Run ``work(stop)``; Ctrl-C or SIGTERM sets ``stop`` (a clean goodbye), a second
    Ctrl-C interrupts."""

    async def main() -> Any:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()

        def stopping() -> None:
            if stop.is_set():
                raise KeyboardInterrupt  # the second time: now, goodbyes or not
            stop.set()

        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stopping)
        try:
            return await work(stop)
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)

    return asyncio.run(main())


class _ProgressLine:
    """Entries and bytes so far, of how many, on stderr when it is a terminal."""

    def __init__(self) -> None:
        self.on = sys.stderr.isatty()
        self._last = 0.0
        self._shown = False

    def __call__(self, p: Progress) -> None:
        if p.caught_up and p.live:
            self.end()
            sys.stderr.write(f"caught up (received {p.received:,}, sent {p.sent:,}); staying"
                             " connected, new entries arrive as written: Ctrl-C to stop\n")
            sys.stderr.flush()
            return
        now = time.monotonic()
        if not self.on or now - self._last < 0.2:
            return
        self._last = now
        of = f" of {p.of:,}" if p.of else ""
        sys.stderr.write(f"\rsyncing: received {p.received:,}{of}"
                         f" {'entry' if (p.of or p.received) == 1 else 'entries'}"
                         f" ({p.bytes_in / 1e6:.1f} MB), sent {p.sent:,}   ")
        sys.stderr.flush()
        self._shown = True

    def end(self) -> None:
        if self._shown:
            sys.stderr.write("\n")
            self._shown = False


def _notify(text: str) -> None:
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def _sync_text(report: dict[str, Any], live: bool) -> str:
    lines = []
    for peer in report["peers"]:
        if peer["ok"]:
            lines.append(f"caught up with {peer['url']}")
        else:
            lines.append(f"failed: {peer['url']}: {peer['error']}")
        for refusal in peer["refused"]:
            lines.append(f"  the peer refused some entries: {refusal}")
    for grp in report["groups"]:
        lines.append(f"  {grp['name']}: received {count_of(grp['received'], 'entry')},"
                     f" sent {count_of(grp['sent'], 'entry')}")
    for change in report["changed"]:
        lines.append(f"changed: {change['title']}: {change['from'] or 'new'} -> "
                     f"{change['to']} ({change['reason']})")
    return "\n".join(lines)


def cmd_sync(home: Home, args: argparse.Namespace) -> Result:
    if args.url:
        urls = [check_url(args.url)]  # given by hand: a typo is bad input (exit 2)
    else:
        urls = sync_mod.known_urls(home, getattr(args, "group", None))
    progress = _ProgressLine()

    async def work(stop: asyncio.Event) -> dict[str, Any]:
        return await sync_mod.sync_peers(home, urls, live=args.live, stop=stop,
                                         progress=progress, notify=_notify)

    try:
        report = _until_stopped(work)
    finally:
        progress.end()
    return report, _sync_text(report, args.live), 1 if "error" in report else 0


def cmd_serve(home: Home, args: argparse.Namespace) -> Result:
    host = args.host or ("0.0.0.0" if args.lan else "127.0.0.1")

    async def work(stop: asyncio.Event) -> None:
        await serve_mod.serve_home(home, host, args.port, args.lan, stop, sys.stdout,
                                   sys.stderr)

    _until_stopped(work)
    return {}, "", 0


def cmd_group_urls(home: Home, args: argparse.Namespace) -> Result:
    info = home.group(getattr(args, "group", None))
    if args.urls_command == "add":
        info = sync_mod.add_url(home, info, args.url)
    elif args.urls_command == "remove":
        info = sync_mod.remove_url(home, info, args.url)
    rows = sync_mod.url_list(home, info)
    text = "\n".join(
        f"{r['url']}  last sync: {_when(r['last_sync'])}"
        + (f"  (last error: {r['last_error']})" if r["last_error"] else "") for r in rows)
    return {"group": info.id.hex(), "urls": rows}, text or "no known peers or pubs", 0


def _when(ms: int | None) -> str:
    if ms is None:
        return "never"
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(ms / 1000))


def cmd_pub(home: Home, args: argparse.Namespace) -> Result:
    pub = Pub(home.paths.root)
    if args.pub_command == "host":
        group = pub.host(args.code, args.max_feed_entries, args.max_group_mb * 1024 * 1024)
        return ({"group": group.hex()},
                f"hosting group {group.hex()[:12]} (this pub cannot read its content)", 0)
    host = args.host or "127.0.0.1"

    async def work(stop: asyncio.Event) -> None:
        await serve_mod.serve_pub(pub.endpoints, wall_clock_ms, host, args.port, stop,
                                  sys.stdout, sys.stderr)

    _until_stopped(work)
    return {}, "", 0
