"""The command line: parse, run one command, render its result or its error.

This is the one place errors are rendered for people: a one-line message on stderr
(and, with ``--json``, ``{"error": {"kind", "message"}}`` on stdout), and the exit
code the contract names. Commands themselves live in ``ssbmoney.commands`` and
return plain dicts.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from ssbmoney.cli import net_args
from ssbmoney.core.errors import BadInput, SsbMoneyError
from ssbmoney.store.paths import default_home

FALLBACK_VERSION = "0.2.0"


def version() -> str:
    """This program's version, as installed (or the source's own when not installed)."""
    try:
        return importlib.metadata.version("ssbmoney")
    except importlib.metadata.PackageNotFoundError:
        return FALLBACK_VERSION


EXAMPLES: dict[str, str] = {
    "": """\
examples:
  ssbmoney init --name Ana
  ssbmoney group create "Flat 3B" --currency EUR --member @BobsId...ed25519
  ssbmoney group join ssbm-invite:...
  ssbmoney deposit 50 --note "March"
  ssbmoney propose --title "New kettle" --amount 39.90 --closes 2025-06-30
  ssbmoney vote %1a2b yes
  ssbmoney close %1a2b
  ssbmoney spend %1a2b --amount 39.90 --payee "Shop"
  ssbmoney status

Run `ssbmoney COMMAND --help` for a command's options; with no command, the
terminal UI starts.""",
    "init": "example:\n  ssbmoney init --name Ana",
    "whoami": "example:\n  ssbmoney whoami --json",
    "group": "examples:\n  ssbmoney group create \"Flat 3B\" --currency EUR\n"
             "  ssbmoney group join ssbm-invite:...\n  ssbmoney group invite",
    "group create": "examples:\n  ssbmoney group create \"Flat 3B\" --currency EUR\n"
                    "  ssbmoney group create Club --currency JPY --member @BobsId...ed25519"
                    " --threshold 60 --quorum 2 --block-vetoes no",
    "group join": "example:\n  ssbmoney group join ssbm-invite:...   (works offline)",
    "group list": "example:\n  ssbmoney group list",
    "group invite": "example:\n  ssbmoney group invite   (give the code to a new member)",
    "group pub-code": "example:\n  ssbmoney group pub-code   (then, in the pub's home:"
                      " ssbmoney pub host CODE)",
    "deposit": "examples:\n  ssbmoney deposit 50\n  ssbmoney deposit 12.50 --note \"March\"",
    "propose": "examples:\n  ssbmoney propose --title \"New kettle\" --amount 39.90"
               " --payee Shop --closes 2025-06-30T18:00+02:00\n"
               "  ssbmoney propose --title \"Admit Dara\" --add-member @DarasId...ed25519",
    "vote": "examples:\n  ssbmoney vote %1a2b yes\n"
            "  ssbmoney vote %1a2b no --comment \"too expensive\"",
    "close": "example:\n  ssbmoney close %1a2b   (any unique prefix of the proposal id)",
    "spend": "example:\n  ssbmoney spend %1a2b --amount 39.90 --payee Shop",
    "withdraw": "example:\n  ssbmoney withdraw %1a2b",
    "reverse": "example:\n  ssbmoney reverse %9f8e --note \"typed 500, meant 50\"",
    "status": "examples:\n  ssbmoney status\n  ssbmoney status --json",
    "audit": "examples:\n  ssbmoney audit ~/.local/share/ssbmoney\n"
             "  ssbmoney audit feeds/ --invite ssbm-invite:...",
    "export": "example:\n  ssbmoney export --out /media/usb/feeds",
    "import": "example:\n  ssbmoney import /media/usb/feeds",
    "reindex": "example:\n  ssbmoney reindex",
    "tui": "example:\n  ssbmoney tui   (in a terminal)",
}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        where = self.prog.removeprefix("ssbmoney").strip()
        raise BadInput(f"{where}: {message}" if where else message)


def _common(sub: argparse.ArgumentParser, group: bool = True) -> None:
    sub.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                     help="print exactly one JSON object on stdout")
    sub.add_argument("--home", type=Path, default=argparse.SUPPRESS,
                     help="home folder (default: $SSBMONEY_HOME or the user data dir)")
    if group:
        sub.add_argument("--group", default=argparse.SUPPRESS,
                         help="group id prefix or name (needed when the home has several)")


def build_parser() -> argparse.ArgumentParser:
    raw = argparse.RawDescriptionHelpFormatter
    parser = _Parser(prog="ssbmoney", description="Decide about and spend shared money together.",
                     epilog=EXAMPLES[""], formatter_class=raw)
    _common(parser)
    parser.add_argument("--version", action="store_true", default=argparse.SUPPRESS,
                        help="print the version and exit")
    commands = parser.add_subparsers(dest="command", parser_class=_Parser)

    def command(name: str, help_text: str, group: bool = True) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text,
                                  epilog=EXAMPLES.get(name), formatter_class=raw)
        _common(sub, group)
        return sub

    sub = command("init", "create this home's identity", group=False)
    sub.add_argument("--name", required=True)
    command("whoami", "show this home's identity", group=False)

    grp = commands.add_parser("group", help="create, join and list groups",
                              description="create, join and list groups",
                              epilog=EXAMPLES["group"], formatter_class=raw)
    _common(grp)
    group_commands = grp.add_subparsers(dest="group_command", parser_class=_Parser, required=True)

    def group_command(name: str, help_text: str) -> argparse.ArgumentParser:
        sub = group_commands.add_parser(name, help=help_text, description=help_text,
                                        epilog=EXAMPLES.get(f"group {name}"),
                                        formatter_class=raw)
        _common(sub)
        return sub

    sub = group_command("create", "found a group")
    sub.add_argument("name")
    sub.add_argument("--currency", required=True)
    sub.add_argument("--member", action="append", default=[])
    sub.add_argument("--threshold", type=int, default=50)
    sub.add_argument("--quorum", type=int, default=None)
    sub.add_argument("--block-vetoes", choices=["yes", "no"], default="yes")
    sub = group_command("join", "join a group with an invite code")
    sub.add_argument("invite")
    group_command("list", "the groups this home belongs to")
    group_command("invite", "print the group's invite code again")
    group_command("pub-code", "a code that lets a pub host this group without reading it")

    sub = command("deposit", "record money coming into the pot")
    sub.add_argument("amount")
    sub.add_argument("--note", default="")
    sub = command("propose", "propose spending")
    sub.add_argument("--title", required=True)
    sub.add_argument("--amount", default=None,
                     help="the amount to spend (not with --add-member)")
    sub.add_argument("--payee", default="")
    sub.add_argument("--category", default="")
    sub.add_argument("--closes", default=None, help="closing time shown to members (ISO 8601)")
    sub.add_argument("--add-member", default=None, help="member id this proposal admits")
    sub = command("vote", "vote on a proposal (a later vote replaces an earlier one)")
    sub.add_argument("proposal")
    sub.add_argument("choice")
    sub.add_argument("--comment", default="")
    sub = command("close", "close voting on the votes this home has seen")
    sub.add_argument("proposal")
    sub = command("spend", "record money paid out against an approved proposal")
    sub.add_argument("proposal")
    sub.add_argument("--amount", required=True)
    sub.add_argument("--payee", default="")
    sub.add_argument("--note", default="")
    sub = command("withdraw", "withdraw your own open proposal")
    sub.add_argument("proposal")
    sub = command("reverse", "reverse one of your deposits or spends (nothing is deleted)")
    sub.add_argument("entry")
    sub.add_argument("--note", default="")
    sub = command("status", "the folded budget view")
    sub.add_argument("--all", action="store_true", help="every proposal, not only open ones")
    sub = command("audit", "replay and verify every feed under a home or an export", group=False)
    sub.add_argument("path", type=Path)
    sub.add_argument("--invite", default=None)
    sub = command("export", "write this home's raw signed feeds to a folder (every group,"
                  " or the one --group names)")
    sub.add_argument("--out", type=Path, required=True, help="the folder to write (made if new)")
    sub = command("import", "take in an exported feeds folder, validating every entry")
    sub.add_argument("folder", type=Path)
    command("reindex", "rebuild the index of every group from the logs", group=False)
    command("tui", "the terminal UI")
    net_args.add_parsers(command, group_commands, _common, _Parser)
    return parser


def _emit(result: dict[str, Any], as_json: bool, text: str) -> None:
    if not text and not result:
        return  # a server, stopped: it said all it had to say (its URL) while running
    if as_json:
        sys.stdout.write(json.dumps(result, sort_keys=True) + "\n")
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")


def main(
    argv: Sequence[str] | None = None,
    run_tui: Callable[[Path, str | None], int] | None = None,
) -> int:
    """Run one command. ``run_tui`` starts the terminal UI: the launcher above both
    passes it, so the command line never imports the TUI."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    as_json = "--json" in args_list
    try:
        for arg in args_list:
            try:
                arg.encode("utf-8")
            except UnicodeEncodeError:
                raise BadInput(f"argument {arg!r} is not valid UTF-8 text") from None
        args = build_parser().parse_args(args_list)
        as_json = bool(getattr(args, "json", False))
        if getattr(args, "version", False):
            _emit({"version": version()}, as_json, f"ssbmoney {version()}")
            return 0
        home_dir = getattr(args, "home", None) or default_home()
        if args.command in (None, "tui"):
            if run_tui is None:
                raise BadInput("the terminal UI starts from the `ssbmoney` command")
            return run_tui(Path(home_dir), getattr(args, "group", None))
        from ssbmoney.cli import commands

        result, text, code = commands.run(args, Path(home_dir))
        _emit(result, as_json, text)
        if code and isinstance(result.get("error"), dict):
            sys.stderr.write(f"ssbmoney: {result['error']['message']}\n")
        return code
    except SsbMoneyError as err:
        return _fail(err.kind, err.message, err.exit_code, as_json)
    except KeyboardInterrupt:
        return _fail("interrupted", "interrupted", 130, as_json)
    except BrokenPipeError:
        # Whoever read our output stopped reading: nothing more to say, to anyone.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except OSError as err:
        return _fail("os_error", f"{err.strerror or err}: {err.filename or ''}".strip(": "),
                     1, as_json)


def _fail(kind: str, message: str, code: int, as_json: bool) -> int:
    if as_json:
        sys.stdout.write(json.dumps({"error": {"kind": kind, "message": message}}) + "\n")
    sys.stderr.write(f"ssbmoney: {message}\n")
    return code
