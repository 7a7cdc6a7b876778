"""A member's home on disk: identity, groups, and their stores (an adapter).

This is where files meet the pure core: keys are loaded here, content is sealed
here before it is signed and appended, and stores are read here to be folded.
Secrets are written owner-only, atomically, and synced before being relied upon.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

from ssbmoney.app.dates import MAX_MS, MIN_MS
from ssbmoney.core import content as msg
from ssbmoney.core.entry import Entry
from ssbmoney.core.errors import BadInput, IdentityExists, NoIdentity, StoreError
from ssbmoney.core.group import (
    DEFAULT_RULES,
    GroupKeys,
    Invite,
    Rules,
    group_keys,
    invite_signed,
    seal,
    sign_invite,
)
from ssbmoney.core.keys import KeyPair, derive, keypair
from ssbmoney.core.ledger import Ledger
from ssbmoney.core.money import check_currency
from ssbmoney.store.group_store import Store, fsync_dir
from ssbmoney.store.paths import HomePaths

Clock = Callable[[], int]


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


class Identity(NamedTuple):
    name: str
    keys: KeyPair


class GroupInfo(NamedTuple):
    keys: GroupKeys
    name: str
    currency: str
    urls: tuple[str, ...]
    rules: Rules = DEFAULT_RULES
    """threshold, quorum, block_vetoes as founded (what the invite signature covers)."""
    invite_sig: bytes = b""
    """The founder's signature over id, name, currency and rules (empty: not known)."""

    @property
    def id(self) -> bytes:
        return self.keys.group_id


MAX_NAME = 200
"""Longest name of a member or a group, in characters."""


def check_text(text: str, what: str, limit: int) -> str:
    """Text from the command line, stripped; refused when empty, too long or not
    valid Unicode (bytes that were not UTF-8 arrive as lone surrogates)."""
    text = text.strip()
    if not text:
        raise BadInput(f"{what} must not be empty")
    if len(text) > limit:
        raise BadInput(f"{what} must be at most {limit} characters")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise BadInput(f"{what} is not valid UTF-8 text") from None
    return text


def write_private(path: Path, data: dict[str, Any], exclusive: bool = False) -> None:
    """Write JSON owner-only and durably; with ``exclusive``, never replace a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, json.dumps(data, indent=2, sort_keys=True).encode() + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        if exclusive:
            os.link(tmp, path)  # fails if the file exists: no overwrite, ever
        else:
            os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    fsync_dir(path.parent)


def _b(text: str) -> bytes:
    return base64.b64decode(text)


def _s(data: bytes) -> str:
    return base64.b64encode(data).decode()


class Home:
    def __init__(self, root: Path, clock: Clock = wall_clock_ms) -> None:
        self.paths = HomePaths(root)
        self.clock = clock

    def checked_clock(self) -> int:
        """This machine's time, in ms; refused when outside what any reader can show."""
        now = self.clock()
        if type(now) is not int or not MIN_MS <= now <= MAX_MS:
            raise BadInput(
                f"this machine's clock says {now!r} ms since 1970, outside years 1970 to "
                "9999; fix the clock"
            )
        return now

    # ----------------------------------------------------------------- identity

    def init(self, name: str, seed: bytes | None = None) -> Identity:
        name = check_text(name, "a name", MAX_NAME)
        try:  # what every entry's reader would refuse, refused before it is written
            msg.check_text(name, "a name", multiline=False, limit=MAX_NAME)
        except msg.BadContent as err:
            raise BadInput(str(err)) from None
        if self.paths.root.exists() and not self.paths.root.is_dir():
            raise BadInput(f"the home {self.paths.root} is a file, not a folder")
        if self.paths.identity.exists():
            raise IdentityExists(f"this home already has an identity ({self.paths.identity})")
        keys = keypair(seed if seed is not None else os.urandom(32))
        try:
            write_private(
                self.paths.identity,
                {"name": name, "seed": _s(keys.seed), "id": keys.id},
                exclusive=True,
            )
        except FileExistsError:
            raise IdentityExists("this home already has an identity") from None
        self.paths.root.chmod(0o700)
        return Identity(name, keys)

    def identity(self) -> Identity:
        try:
            data = json.loads(self.paths.identity.read_text())
            return Identity(data["name"], keypair(_b(data["seed"])))
        except FileNotFoundError:
            raise NoIdentity(
                f"no identity in {self.paths.root}; run `ssbmoney init --name NAME` first"
            ) from None
        except (ValueError, KeyError, TypeError) as err:
            what = f"no {err}" if isinstance(err, KeyError) else str(err)
            raise StoreError(f"identity file {self.paths.identity} is damaged: {what}") from None

    def feed_keys(self, group: GroupInfo) -> KeyPair:
        """This member's own key for one group's feed."""
        return self.feed_keypair(group.keys.secret)

    def feed_keypair(self, group_secret: bytes) -> KeyPair:
        """Derived from the identity and the group secret: unlinkable across groups
        without the identity seed, and recoverable from it."""
        return keypair(derive(self.identity().keys.seed, b"ssbm-feed-key", group_secret))

    # ------------------------------------------------------------------- groups

    def groups(self) -> list[GroupInfo]:
        if not self.paths.groups.exists():
            return []
        found = []
        for child in sorted(self.paths.groups.iterdir()):
            path = child / "group.json"
            if path.exists():
                found.append(self._load_group(path))
        return found

    def _load_group(self, path: Path) -> GroupInfo:
        try:
            data = json.loads(path.read_text())
            keys = group_keys(_b(data["secret"]), _b(data["founder"]))
            threshold, quorum, block_vetoes = data.get("rules", DEFAULT_RULES)
            rules: Rules = (int(threshold), None if quorum is None else int(quorum),
                            bool(block_vetoes))
            return GroupInfo(keys, data["name"], data["currency"], tuple(data.get("urls", [])),
                             rules, _b(data.get("invite_sig", "")))
        except (ValueError, KeyError, TypeError) as err:
            raise StoreError(f"group file {path} is damaged: {err}") from None

    def save_group(self, info: GroupInfo) -> None:
        write_private(
            self.paths.group_file(info.id),
            {
                "group": info.id.hex(),
                "secret": _s(info.keys.secret),
                "founder": _s(info.keys.founder),
                "name": info.name,
                "currency": info.currency,
                "urls": list(info.urls),
                "rules": list(info.rules),
                "invite_sig": _s(info.invite_sig),
            },
        )

    def group(self, selector: str | None = None) -> GroupInfo:
        """The group named by a unique prefix of its id, or by its name; or the only one."""
        groups = self.groups()
        if not groups:
            if not self.paths.identity.exists():
                self.identity()  # says: run `ssbmoney init --name NAME` first
            raise BadInput("this home belongs to no group yet (group create, or group join)")
        if selector is None:
            if len(groups) == 1:
                return groups[0]
            raise BadInput("this home belongs to several groups; say which with --group")
        matches = [g for g in groups if g.id.hex().startswith(selector.lower())]
        if not matches:
            matches = [g for g in groups if g.name == selector]
        if len(matches) != 1:
            what = "no group" if not matches else "more than one group"
            raise BadInput(f"{what} matches {selector!r}")
        return matches[0]

    def create_group(
        self,
        name: str,
        currency: str,
        members: Sequence[bytes] = (),
        threshold: int = 50,
        quorum: int | None = None,
        block_vetoes: bool = True,
        secret: bytes | None = None,
    ) -> GroupInfo:
        """Found a group: its secret, the founder's feed, and the founding entry."""
        currency = check_currency(currency)
        name = check_text(name, "a group name", MAX_NAME)
        if not 1 <= threshold <= 100:
            raise BadInput(f"--threshold must be an integer from 1 to 100, not {threshold}")
        ident = self.identity()
        others = tuple(m for m in dict.fromkeys(members) if m != ident.keys.public)
        if quorum is not None and not 1 <= quorum <= len(others) + 1:
            raise BadInput(
                f"--quorum must be from 1 to the number of founding members ({len(others) + 1})"
            )
        secret = secret if secret is not None else os.urandom(32)
        founder = self.feed_keypair(secret)
        keys = group_keys(secret, founder.public)
        rules: Rules = (threshold, quorum, block_vetoes)
        info = GroupInfo(keys, name, currency, (), rules,
                         sign_invite(founder.secret, keys, name, currency, rules))
        found = msg.Found(name, currency, others, threshold, quorum, block_vetoes)
        self._check_first_post(info, [found], "cannot found this group")
        self._write_group(info, [found])
        return info

    def join_group(self, invite: Invite) -> GroupInfo:
        """Join offline: keep the group's keys and its founder-signed terms, and write
        this feed's join entry."""
        self.identity()
        if not invite_signed(invite):
            raise BadInput("invite code has been altered: the group's name, currency or"
                           " rules are not what its founder signed")
        info = GroupInfo(invite.keys, invite.name, invite.currency, invite.urls,
                         invite.rules, invite.signature)
        held = next((g for g in self.groups() if g.id == info.id), None)
        if held is None:
            self._check_first_post(info, [], "cannot join this group")
            self._write_group(info, [])
            return info
        self.post(held, [])
        if not held.invite_sig:  # joined with an older, unsigned invite: now it is known
            held = held._replace(name=info.name, currency=info.currency, rules=info.rules,
                                 invite_sig=info.invite_sig)
            self.save_group(held)
        return held

    def invite(self, info: GroupInfo) -> Invite:
        """The group's invite, carrying the founder's signature of its terms."""
        if not info.invite_sig:
            info = self._sign_as_founder(info)
        return Invite(info.keys, info.name, info.currency, info.urls, info.rules,
                      info.invite_sig)

    def _sign_as_founder(self, info: GroupInfo) -> GroupInfo:
        """A group founded or joined before invites were signed: its founder's home
        signs its terms now (from the founding entry) and keeps the signature."""
        feed = self.feed_keys(info)
        if feed.public != info.keys.founder:
            raise BadInput(
                "this group was joined with an old invite its founder had not signed; ask"
                " the founder for a new one (`ssbmoney group invite`) and join with it"
            )
        view = self.ledger(info).view()
        if not view.get("name"):
            raise BadInput("this home does not hold the group's founding entry")
        found = view["rules"]
        rules: Rules = (int(found["threshold"]), found["quorum"], bool(found["block_vetoes"]))
        info = info._replace(name=view["name"], currency=view["currency"], rules=rules)
        info = info._replace(invite_sig=sign_invite(feed.secret, info.keys, info.name,
                                                    info.currency, rules))
        self.save_group(info)
        return info

    def _check_first_post(
        self, info: GroupInfo, messages: Sequence[msg.Message], what: str
    ) -> None:
        """Refuse (``BadInput``) what ``post`` would refuse for a feed's first entries,
        before anything is written: their content, and this machine's clock."""
        ident = self.identity()
        feed = self.feed_keys(info)
        join = msg.Join(ident.keys.public, ident.name,
                        msg.sign_join(ident.keys.secret, info.id, feed.public))
        try:
            msg.check_text(ident.name, "this home's name", multiline=False, limit=MAX_NAME)
            for message in (join, *messages):
                msg.encode(message)
        except msg.BadContent as err:
            raise BadInput(f"{what}: {err}") from None
        self.checked_clock()

    def _write_group(self, info: GroupInfo, messages: Sequence[msg.Message]) -> None:
        """Save a new group and post its first entries; when that fails, remove what
        this call made, so a refusal leaves the home as it was."""
        made = [d for d in (self.paths.groups, self.paths.group_dir(info.id)) if not d.exists()]
        try:
            self.save_group(info)
            self.post(info, messages)
        except BaseException:
            if made:
                shutil.rmtree(made[-1], ignore_errors=True)
                if len(made) == 2:
                    try:
                        made[0].rmdir()
                    except OSError:
                        pass
            raise

    # ------------------------------------------------------------------- stores

    @contextmanager
    def store(self, info: GroupInfo) -> Iterator[Store]:
        store = Store(self.paths.group_dir(info.id), info.id)
        try:
            yield store
        finally:
            store.close()

    def post(
        self, info: GroupInfo, messages: Sequence[msg.Message], store: Store | None = None
    ) -> list[Entry]:
        """Seal and append messages to this member's feed in the group, as one batch.

        A feed's first entry is always the ``join`` that ties it to the identity.
        """
        now = self.checked_clock()
        ident = self.identity()
        feed = self.feed_keys(info)
        if store is None:
            with self.store(info) as opened:
                return self.post(info, messages, opened)
        with store.locked():
            batch = list(messages)
            state = store.heads().get(feed.public)
            if state is None or state.seq == 0:
                join = msg.Join(
                    ident.keys.public, ident.name,
                    msg.sign_join(ident.keys.secret, info.id, feed.public),
                )
                batch.insert(0, join)
            try:
                encoded = [msg.encode(m) for m in batch]
            except msg.BadContent as err:
                raise BadInput(f"cannot write this: {err}") from None
            sealed = [seal(info.keys.content_key, feed.public, data) for data in encoded]
            made = store.append(feed.secret, feed.public, sealed, now)
        return made[len(made) - len(messages):]

    def ledger(self, info: GroupInfo, store: Store | None = None) -> Ledger:
        if store is None:
            with self.store(info) as opened:
                return self.ledger(info, opened)
        ledger = Ledger(info.keys, info.currency)
        ledger.add_all(store.all_entries())
        return ledger
