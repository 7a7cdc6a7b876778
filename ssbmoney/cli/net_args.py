"""The network commands' arguments (kept apart from their code, so that parsing any
command does not import the network stack)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from ssbmoney.core.errors import BadInput


def add_parsers(command: Callable[..., argparse.ArgumentParser],
                group_commands: Any, common: Callable[..., None],
                parser_class: type[argparse.ArgumentParser]) -> None:
    """The network commands' arguments, added to the main parser."""
    sub = command("serve", "run this home as a peer others can sync with, until stopped")
    sub.add_argument("--host", default=None, help="address to listen on (default 127.0.0.1;"
                     " with --lan 0.0.0.0)")
    sub.add_argument("--port", type=_port, default=8008,
                     help="port (default 8008; 0: any free one)")
    sub.add_argument("--lan", action="store_true",
                     help="listen on the local network, announce there, sync with group peers")
    sub = command("sync", "sync with a peer or pub, both ways (no URL: every known one)")
    sub.add_argument("url", nargs="?", default=None,
                     help="a peer's or pub's URL, http://HOST:PORT (default: every known one)")
    sub.add_argument("--live", action="store_true", help="stay connected until stopped")
    urls = group_commands.add_parser("urls", help="this group's known peers and pubs",
                                     description="this group's known peers and pubs")
    common(urls)
    urls_commands = urls.add_subparsers(dest="urls_command", parser_class=parser_class,
                                        required=True)
    add = urls_commands.add_parser("add", help="remember a peer's or pub's URL")
    common(add)
    add.add_argument("url")
    common(urls_commands.add_parser("list", help="the known URLs, with their last sync"))
    remove = urls_commands.add_parser("remove", help="forget a peer's or pub's URL")
    common(remove)
    remove.add_argument("url")
    pub = command("pub", "host groups as a pub (stores and relays, cannot read)", group=False)
    pub_commands = pub.add_subparsers(dest="pub_command", parser_class=parser_class,
                                      required=True)
    host = pub_commands.add_parser("host", help="host the group a pub code names")
    common(host, False)
    host.add_argument("code")
    host.add_argument("--max-feed-entries", type=int, default=1_000_000,
                      help="entries one feed may keep on this pub (default 1,000,000)")
    host.add_argument("--max-group-mb", type=int, default=4096,
                      help="MiB the group may take on this pub (default 4,096)")
    serve = pub_commands.add_parser("serve", help="run the pub until stopped")
    common(serve, False)
    serve.add_argument("--host", default=None,
                       help="address to listen on (default 127.0.0.1; 0.0.0.0: every one)")
    serve.add_argument("--port", type=_port, default=8008, help="port (default 8008; 0: any"
                       " free one)")


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise BadInput(f"--port must be a number, not {text!r}") from None
    if not 0 <= port <= 65535:
        raise BadInput(f"--port must be from 0 to 65535, not {port}")
    return port
