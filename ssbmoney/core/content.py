"""What members say in their feeds: the typed messages inside sealed content.

Each message is a msgpack array: its type, then its fields in the order of the record
below (a reader ignores elements after those it knows, so a later version can add
fields). Arrays, not maps: the fold parses 100,000 of them a second, and a map's
keys cost twice the rest. ``parse`` turns bytes into one frozen record or raises
``BadContent`` naming what is wrong; the fold flags such entries rather than
guessing. Amounts are integers in minor units, always.

Anything at all may arrive here, sealed by anyone holding the invite: ``parse`` never
raises anything but ``BadContent``, whatever the value's type, depth or size.

A vote's choice is a one-byte code (``CHOICE_CODES``), so that with the padding of
sealed content (``ssbmoney.core.group``) its size cannot tell the choice. A close's
cut is a list of ``[feed key, sequence, entry id]`` heads (see ``ssbmoney.core.decide``).
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple

import msgpack
import nacl.bindings as sodium
from nacl.exceptions import BadSignatureError

from ssbmoney.core.money import MAX_AMOUNT

CHOICES = ("yes", "no", "abstain", "block")
CHOICE_CODES = {choice: code for code, choice in enumerate(CHOICES)}
"""On the wire a choice is its index: one byte whichever it is."""
MAX_MS = 253_402_300_799_999
"""9999-12-31T23:59:59.999Z: the last moment any date we show can name."""
MAX_SEQ = 2**53 - 1
"""Above any real sequence; keeps every number we print exact in any JSON reader."""
MAX_CUT = 4096
JOIN_CONTEXT = b"ssbmoney-join-v1"
MAX_TEXT = 2000


class BadContent(ValueError):
    """Content that decrypted but is not a well-formed message."""


class Join(NamedTuple):
    """First entry of every feed: ties this group feed key to a member identity."""

    identity: bytes
    name: str
    signature: bytes  # identity's signature over JOIN_CONTEXT + group + feed key


class Found(NamedTuple):
    """The group's founding: name, currency, founding members and rules."""

    name: str
    currency: str
    members: tuple[bytes, ...]
    threshold: int
    quorum: int | None
    block_vetoes: bool


class Deposit(NamedTuple):
    amount: int
    note: str


class Proposal(NamedTuple):
    title: str
    amount: int | None  # None exactly for an admission: it is never spent
    payee: str
    category: str
    closes_ms: int | None
    add_member: bytes | None


class Vote(NamedTuple):
    proposal: bytes
    choice: str
    comment: str


class Close(NamedTuple):
    proposal: bytes
    cut: tuple[tuple[bytes, int, bytes], ...]  # (feed key, sequence, entry id) per head seen


class Spend(NamedTuple):
    proposal: bytes
    amount: int
    payee: str
    note: str


class Withdraw(NamedTuple):
    proposal: bytes


class Reverse(NamedTuple):
    target: bytes
    note: str


Message = Join | Found | Deposit | Proposal | Vote | Close | Spend | Withdraw | Reverse

_TYPES: dict[type, str] = {
    Join: "join", Found: "found", Deposit: "deposit", Proposal: "proposal", Vote: "vote",
    Close: "close", Spend: "spend", Withdraw: "withdraw", Reverse: "reverse",
}


def encode(message: Message) -> bytes:
    """The message's bytes, checked by the very parser every reader uses: what we
    write, every member can read (``BadContent`` otherwise, naming the field)."""
    body: list[Any] = [_TYPES[type(message)]]
    for key, value in message._asdict().items():
        if key == "cut":
            value = [list(head) for head in value]
        elif key == "members":
            value = list(value)
        elif key == "choice":
            value = CHOICE_CODES.get(value, value)
        body.append(value)
    data: bytes = msgpack.packb(body)
    parse(data)
    return data


def join_payload(group: bytes, feed: bytes) -> bytes:
    return JOIN_CONTEXT + group + feed


def sign_join(identity_secret: bytes, group: bytes, feed: bytes) -> bytes:
    return bytes(sodium.crypto_sign(join_payload(group, feed), identity_secret))[:64]


def join_ok(join: Join, group: bytes, feed: bytes) -> bool:
    try:
        sodium.crypto_sign_open(join.signature + join_payload(group, feed), join.identity)
    except (BadSignatureError, ValueError):
        return False
    return True


# ------------------------------------------------------------------------ parsing


# Control characters (and bidirectional overrides) would let one member's text
# rewrite what another member's terminal shows; notes and comments may hold line
# breaks and tabs, one-line fields nothing of the kind.
_CONTROL_IN_LINE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_CONTROL_IN_TEXT = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_MULTILINE = frozenset({"note", "comment"})


def check_text(value: str, what: str, multiline: bool = False, limit: int = MAX_TEXT) -> str:
    """Refuse (``BadContent``) text every reader would refuse: too long, or holding
    control characters (line breaks and tabs only where ``multiline``)."""
    if type(value) is not str or len(value) > limit:
        raise BadContent(f"{what} must be text of at most {limit} characters")
    if not (value.isascii() and value.isprintable()):
        control = _CONTROL_IN_TEXT if multiline else _CONTROL_IN_LINE
        if control.search(value):
            raise BadContent(f"{what} must not hold control characters")
    return value


def _text(body: dict[str, Any], key: str, required: bool = False) -> str:
    value = body.get(key, "")
    if type(value) is not str or len(value) > MAX_TEXT:
        raise BadContent(f"{key} must be text of at most {MAX_TEXT} characters")
    if required and not value.strip():
        raise BadContent(f"{key} must not be empty")
    if not (value.isascii() and value.isprintable()):  # the common case, checked in C
        control = _CONTROL_IN_TEXT if key in _MULTILINE else _CONTROL_IN_LINE
        if control.search(value):
            raise BadContent(f"{key} must not hold control characters")
    return value


def _key(body: dict[str, Any], key: str) -> bytes:
    value = body.get(key)
    if type(value) is not bytes or len(value) != 32:
        raise BadContent(f"{key} must be 32 bytes")
    return value


def _amount(body: dict[str, Any]) -> int:
    value = body.get("amount")
    if type(value) is not int or not 0 < value <= MAX_AMOUNT:
        raise BadContent("amount must be a positive integer in minor units")
    return value


def _optional_uint(body: dict[str, Any], key: str, limit: int = MAX_SEQ) -> int | None:
    value = body.get(key)
    if value is not None and (type(value) is not int or not 0 <= value <= limit):
        raise BadContent(f"{key} must be an integer from 0 to {limit}, or absent")
    return value


def _vote(body: list[Any]) -> Message:
    # The most common message: read from the array, its checks written out.
    if len(body) < 4:
        raise BadContent("a vote is [type, proposal, choice, comment]")
    proposal, code, comment = body[1], body[2], body[3]
    if type(code) is not int or not 0 <= code < 4:
        raise BadContent(f"vote must be one of {', '.join(CHOICES)}")
    if type(proposal) is not bytes or len(proposal) != 32:
        raise BadContent("proposal must be 32 bytes")
    if type(comment) is not str or len(comment) > MAX_TEXT:
        raise BadContent(f"comment must be text of at most {MAX_TEXT} characters")
    if not (comment.isascii() and comment.isprintable()) and _CONTROL_IN_TEXT.search(comment):
        raise BadContent("comment must not hold control characters")
    return _new(Vote, (proposal, CHOICES[code], comment))  # the hottest record: see entry._new


def _deposit(body: dict[str, Any]) -> Message:
    return Deposit(_amount(body), _text(body, "note"))


def _spend(body: dict[str, Any]) -> Message:
    return Spend(_key(body, "proposal"), _amount(body), _text(body, "payee"),
                 _text(body, "note"))


def _proposal(body: dict[str, Any]) -> Message:
    add = body.get("add_member")
    if add is not None:
        add = _key(body, "add_member")
        if body.get("amount") is not None:
            raise BadContent("an admission carries no amount")
        amount = None
    else:
        amount = _amount(body)
    return Proposal(_text(body, "title", True), amount, _text(body, "payee"),
                    _text(body, "category"), _optional_uint(body, "closes_ms", MAX_MS), add)


def _close(body: dict[str, Any]) -> Message:
    cut = body.get("cut")
    if type(cut) is not list or len(cut) > MAX_CUT:
        raise BadContent("close must name the heads it saw")
    heads = []
    for head in cut:
        if (type(head) is not list or len(head) != 3 or type(head[0]) is not bytes
                or len(head[0]) != 32 or type(head[1]) is not int
                or not 1 <= head[1] <= MAX_SEQ or type(head[2]) is not bytes
                or len(head[2]) != 32):
            raise BadContent("close heads must be [feed key, sequence, entry id]")
        heads.append((head[0], head[1], head[2]))
    return Close(_key(body, "proposal"), tuple(sorted(heads)))


def _withdraw(body: dict[str, Any]) -> Message:
    return Withdraw(_key(body, "proposal"))


def _reverse(body: dict[str, Any]) -> Message:
    return Reverse(_key(body, "target"), _text(body, "note"))


def _join(body: dict[str, Any]) -> Message:
    signature = body.get("signature")
    if type(signature) is not bytes or len(signature) != 64:
        raise BadContent("join signature must be 64 bytes")
    return Join(_key(body, "identity"), _text(body, "name"), signature)


def _found(body: dict[str, Any]) -> Message:
    members = body.get("members")
    if type(members) is not list or any(type(m) is not bytes or len(m) != 32 for m in members):
        raise BadContent("found members must be a list of 32-byte keys")
    threshold = body.get("threshold")
    if type(threshold) is not int or not 1 <= threshold <= 100:
        raise BadContent("threshold must be an integer from 1 to 100")
    quorum = _optional_uint(body, "quorum")
    vetoes = body.get("block_vetoes")
    if type(vetoes) is not bool:
        raise BadContent("block_vetoes must be true or false")
    currency = _text(body, "currency", True)
    return Found(_text(body, "name", True), currency, tuple(members), threshold, quorum, vetoes)


_PARSERS = {
    "deposit": _deposit, "spend": _spend, "proposal": _proposal,
    "close": _close, "withdraw": _withdraw, "reverse": _reverse, "join": _join,
    "found": _found,
}
_FIELDS: dict[str, tuple[str, ...]] = {
    name: kind._fields for kind, name in _TYPES.items()  # type: ignore[attr-defined]
}
_unpackb = msgpack.unpackb
_new = tuple.__new__


def parse(data: bytes) -> Message:
    """Bytes to one message record, or ``BadContent`` saying what is wrong. Nothing
    else escapes: content comes from anyone holding the invite."""
    try:
        body = _unpackb(data)
    except Exception as err:
        raise BadContent(f"content is not msgpack: {err}") from None
    if type(body) is not list or not body:
        raise BadContent("content must be an array [type, fields...]")
    kind = body[0]
    if type(kind) is not str:
        raise BadContent("a message's type must be text")
    try:
        if kind == "vote":
            return _vote(body)
        parser = _PARSERS.get(kind)
        if parser is None:
            raise BadContent(f"unknown message type {kind[:40]!r}")
        fields = _FIELDS[kind]
        if len(body) < 1 + len(fields):
            raise BadContent(f"a {kind} is [type, {', '.join(fields)}]")
        return parser(dict(zip(fields, body[1:], strict=False)))
    except BadContent:
        raise
    except Exception as err:  # a crafted value no check above foresaw: still only bad
        raise BadContent(f"malformed {kind[:40]}: {type(err).__name__}") from None
