"""Entries: canonical encoding, ids, and every way decoding refuses bytes."""

from __future__ import annotations

import base64
import hashlib
import re
import sys
from pathlib import Path
from typing import Any

import msgpack
import nacl.bindings
import nacl.signing
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # works uninstalled

from ssbmoney.core import errors
from ssbmoney.core.entry import (
    MAX_ENTRY_BYTES,
    VERSION,
    Entry,
    create,
    decode,
    encode_envelope,
    entry_id,
    feed_id,
    parse_entry_id,
    parse_feed_id,
    resign_raw,
    verify_signature,
)

SK = nacl.signing.SigningKey(hashlib.sha256(b"test_entry alice").digest())
SECRET: bytes = SK._signing_key
AUTHOR = bytes(SK.verify_key)
OTHER = nacl.signing.SigningKey(hashlib.sha256(b"test_entry bob").digest())
GROUP = hashlib.sha256(b"test_entry group").digest()
MS = 1_700_000_000_000


def sha(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def first(content: bytes = b"hello") -> Entry:
    return create(SECRET, AUTHOR, GROUP, 1, None, MS, content)


def craft(
    overrides: dict[int, Any] | None = None,
    *,
    content: bytes | None = b"hello",
    wire_content: Any = "same",
    signature: bytes | None = None,
) -> bytes:
    """Entry bytes from envelope field values, signed properly unless told otherwise."""
    c = content if content is not None else b""
    fields: list[Any] = [VERSION, AUTHOR, GROUP, 1, None, MS, sha(c), len(c)]
    for index, value in (overrides or {}).items():
        fields[index] = value
    envelope = msgpack.packb(fields)
    if signature is None:
        signature = nacl.bindings.crypto_sign(envelope, SECRET)[:64]
    body = content if wire_content == "same" else wire_content
    return msgpack.packb([envelope, signature, body])


def kind_of(raw: bytes) -> str:
    with pytest.raises(errors.ValidationError) as info:
        decode(raw)
    return info.value.kind


# ---------------------------------------------------------------- round trips


def test_create_decode_round_trip() -> None:
    entry = first(b"some content")
    again = decode(entry.raw)
    assert again == entry
    assert again.version == VERSION and again.author == AUTHOR and again.group == GROUP
    assert again.seq == 1 and again.previous is None and again.claimed_ms == MS
    assert again.content == b"some content"
    assert again.content_hash == sha(b"some content") and again.content_size == 12
    assert again.signature_ok()


def test_wire_layout() -> None:
    entry = first()
    assert msgpack.unpackb(entry.raw) == [entry.envelope, entry.signature, entry.content]
    assert entry.envelope == encode_envelope(AUTHOR, GROUP, 1, None, MS, sha(b"hello"), 5)
    assert msgpack.unpackb(entry.envelope) == [
        VERSION, AUTHOR, GROUP, 1, None, MS, sha(b"hello"), 5,
    ]
    assert len(entry.signature) == 64


def test_id_is_hash_of_envelope_and_signature() -> None:
    entry = first()
    assert entry.id == sha(entry.envelope + entry.signature)


def test_signature_covers_the_envelope() -> None:
    entry = first()
    SK.verify_key.verify(entry.envelope, entry.signature)  # raises if not
    assert verify_signature(entry.envelope, entry.signature, AUTHOR)
    assert not verify_signature(entry.envelope + b"x", entry.signature, AUTHOR)
    assert not verify_signature(entry.envelope, entry.signature, bytes(OTHER.verify_key))


def test_verify_signature_with_a_short_key_is_false() -> None:
    entry = first()
    assert not verify_signature(entry.envelope, entry.signature, AUTHOR[:31])


def test_chained_entry_round_trip() -> None:
    one = first()
    two = create(SECRET, AUTHOR, GROUP, 2, one.id, MS + 1, b"")
    assert decode(two.raw) == two
    assert two.previous == one.id and two.content_size == 0


def test_pruned_entry_is_refused_as_missing_content() -> None:
    entry = first()
    with pytest.raises(errors.MissingContent) as info:
        decode(resign_raw(entry.envelope, entry.signature, None))
    assert info.value.kind == "missing_content"
    assert "without its content" in info.value.message
    assert resign_raw(entry.envelope, entry.signature, entry.content) == entry.raw


def test_format_1_entry_is_refused_with_a_clear_message() -> None:
    with pytest.raises(errors.UnsupportedVersion) as info:
        decode(craft({0: 1}))
    assert "older ssbmoney (format 1)" in info.value.message
    assert "format 2" in info.value.message
    assert VERSION == 2 and first().version == 2


def test_create_is_deterministic() -> None:
    assert first().raw == first().raw


def test_create_refuses_oversized() -> None:
    with pytest.raises(errors.BadInput):
        first(bytes(MAX_ENTRY_BYTES))


def max_content_size() -> int:
    """The content size that makes a first entry exactly MAX_ENTRY_BYTES long."""
    # Content headers grow from bin8 (2 bytes) to bin16 (3), content_size from a
    # fixint (1) to uint16 (3): 3 bytes more than with empty content.
    size = MAX_ENTRY_BYTES - len(first(b"").raw) - 3
    assert len(first(bytes(size)).raw) == MAX_ENTRY_BYTES
    return size


def test_size_limit_is_inclusive() -> None:
    size = max_content_size()
    entry = first(bytes(size))
    assert len(entry.raw) == MAX_ENTRY_BYTES
    assert decode(entry.raw) == entry
    with pytest.raises(errors.BadInput):
        first(bytes(size + 1))


# ------------------------------------------------------------------------- ids


def test_id_formats() -> None:
    entry = first()
    assert feed_id(AUTHOR) == "@" + base64.b64encode(AUTHOR).decode() + ".ed25519"
    assert entry_id(entry.id) == "%" + base64.b64encode(entry.id).decode() + ".sha256"
    assert re.fullmatch(r"@[A-Za-z0-9+/]{43}=\.ed25519", feed_id(AUTHOR))
    assert re.fullmatch(r"%[A-Za-z0-9+/]{43}=\.sha256", entry_id(entry.id))


def test_id_round_trips() -> None:
    entry = first()
    assert parse_feed_id(feed_id(AUTHOR)) == AUTHOR
    assert parse_entry_id(entry_id(entry.id)) == entry.id


@pytest.mark.parametrize(
    "text",
    [
        "",
        "@",
        "@.ed25519",
        feed_id(AUTHOR)[1:],  # no sigil
        "%" + feed_id(AUTHOR)[1:],  # an entry sigil on a feed id
        feed_id(AUTHOR).replace(".ed25519", ".sha256"),
        feed_id(AUTHOR) + " ",
        " " + feed_id(AUTHOR),
        "@" + base64.b64encode(AUTHOR[:31]).decode() + ".ed25519",  # 31 bytes
        "@" + base64.b64encode(AUTHOR + b"\0").decode() + ".ed25519",  # 33 bytes
        "@" + base64.b64encode(AUTHOR).decode().rstrip("=") + ".ed25519",  # no padding
        "@" + base64.urlsafe_b64encode(b"\xff" * 32).decode() + ".ed25519",  # url alphabet
        "@" + base64.b64encode(AUTHOR).decode()[:20] + "\n"
        + base64.b64encode(AUTHOR).decode()[20:] + ".ed25519",  # whitespace
        "@" + "!" * 43 + "=.ed25519",
    ],
)
def test_parse_feed_id_refuses(text: str) -> None:
    with pytest.raises(errors.BadInput) as info:
        parse_feed_id(text)
    assert info.value.kind == "bad_input"


def test_parse_refuses_non_canonical_base64() -> None:
    body = base64.b64encode(bytes(32)).decode()
    assert body.endswith("A=")
    sloppy = body[:-2] + "B="  # same 32 bytes, but non-zero padding bits
    assert base64.b64decode(sloppy) == bytes(32)
    with pytest.raises(errors.BadInput):
        parse_feed_id("@" + sloppy + ".ed25519")
    with pytest.raises(errors.BadInput):
        parse_entry_id("%" + sloppy + ".sha256")


@pytest.mark.parametrize(
    "text",
    ["", "%", "%.sha256", feed_id(bytes(32)), "%" + base64.b64encode(bytes(32)).decode()
     + ".sha512", "%" + base64.b64encode(bytes(16)).decode() + ".sha256"],
)
def test_parse_entry_id_refuses(text: str) -> None:
    with pytest.raises(errors.BadInput):
        parse_entry_id(text)


# -------------------------------------------------------------- decode errors


def test_oversized_is_checked_first() -> None:
    assert kind_of(b"\xc1" * (MAX_ENTRY_BYTES + 1)) == "oversized"
    with pytest.raises(errors.Oversized):
        decode(bytes(MAX_ENTRY_BYTES + 1))


def test_one_byte_over_the_limit() -> None:
    raw = craft(content=bytes(max_content_size() + 1))
    assert len(raw) == MAX_ENTRY_BYTES + 1
    assert kind_of(raw) == "oversized"


@pytest.mark.parametrize("cut", [0, 3, 10, 50, 100, -1])
def test_truncated(cut: int) -> None:
    raw = first().raw
    assert kind_of(raw[:cut]) == "truncated"
    with pytest.raises(errors.MalformedEntry):  # truncated is a kind of malformed
        decode(raw[:cut])


@pytest.mark.parametrize(
    "raw",
    [
        b"\xc1",
        b"\xc1garbage",
        msgpack.packb(1),
        msgpack.packb(None),
        msgpack.packb(b"\x00" * 10),
        msgpack.packb({"envelope": b"", "signature": b"", "content": b""}),
        msgpack.packb([b"a", b"b"]),
        msgpack.packb([b"a", bytes(64), b"c", b"d"]),
        msgpack.packb({1: 2}, strict_types=False),
    ],
    ids=lambda raw: raw[:12].hex(),
)
def test_not_an_entry(raw: bytes) -> None:
    assert kind_of(raw) == "malformed"


def test_trailing_bytes() -> None:
    assert kind_of(first().raw + b"\x00") == "non_canonical"
    with pytest.raises(errors.NonCanonical):
        decode(first().raw + first().raw)


def test_outer_field_types() -> None:
    entry = first()
    assert kind_of(msgpack.packb([entry.envelope.decode("latin-1"), entry.signature,
                                  entry.content])) == "malformed"
    assert kind_of(msgpack.packb([entry.envelope, entry.signature[:63], entry.content])) \
        == "malformed"
    assert kind_of(msgpack.packb([entry.envelope, entry.signature + b"\0", entry.content])) \
        == "malformed"
    assert kind_of(msgpack.packb([entry.envelope, entry.signature, "hello"])) == "malformed"
    assert kind_of(msgpack.packb([entry.envelope, entry.signature, 5])) == "malformed"
    assert kind_of(msgpack.packb([msgpack.unpackb(entry.envelope), entry.signature,
                                  entry.content])) == "malformed"


@pytest.mark.parametrize(
    ("index", "value", "kind"),
    [
        (0, 1, "unsupported_version"),
        (0, 3, "unsupported_version"),
        (0, 0, "unsupported_version"),
        (0, True, "malformed"),
        (0, "1", "malformed"),
        (0, 1.0, "malformed"),
        (1, AUTHOR[:31], "malformed"),
        (1, AUTHOR.hex()[:32], "malformed"),
        (1, None, "malformed"),
        (2, GROUP + b"\0", "malformed"),
        (2, None, "malformed"),
        (3, 0, "malformed"),
        (3, -1, "malformed"),
        (3, True, "malformed"),
        (3, 1.0, "malformed"),
        (3, None, "malformed"),
        (4, b"\0" * 31, "malformed"),
        (4, "", "malformed"),
        (5, -1, "malformed"),
        (5, float(MS), "malformed"),
        (5, False, "malformed"),
        (6, b"\0" * 33, "malformed"),
        (6, None, "malformed"),
        (7, -5, "malformed"),
        (7, True, "malformed"),
    ],
)
def test_envelope_field_rules(index: int, value: Any, kind: str) -> None:
    assert kind_of(craft({index: value}, wire_content=None)) == kind


def test_envelope_shape() -> None:
    entry = first()
    fields = msgpack.unpackb(entry.envelope)
    for envelope in (
        msgpack.packb(fields[:7]),
        msgpack.packb([*fields, 0]),
        msgpack.packb(dict(enumerate(fields)), strict_types=False),
        entry.envelope + b"\x00",
        entry.envelope[:-1],
        b"\xc1",
        b"",
    ):
        signature = nacl.bindings.crypto_sign(envelope, SECRET)[:64]
        assert kind_of(msgpack.packb([envelope, signature, None])) == "malformed", envelope


def test_extreme_uints_are_allowed() -> None:
    raw = craft({3: 2**64 - 1, 5: 2**64 - 1})
    entry = decode(raw)
    assert entry.seq == 2**64 - 1 and entry.claimed_ms == 2**64 - 1
    assert entry.signature_ok()


def _reencode(raw: bytes, old: bytes, new: bytes) -> bytes:
    assert raw.count(old) == 1
    return raw.replace(old, new)


def test_non_canonical_forms() -> None:
    entry = first()
    # outer: array16 header instead of fixarray
    assert kind_of(b"\xdc\x00\x03" + entry.raw[1:]) == "non_canonical"
    # outer: envelope as bin16 where bin8 suffices
    env_len = len(entry.envelope)
    raw = b"\x93\xc5" + env_len.to_bytes(2, "big") + entry.raw[3:]
    assert kind_of(raw) == "non_canonical"
    # outer: content as bin16
    raw = entry.raw[:-7] + b"\xc5\x00\x05hello"
    assert kind_of(raw) == "non_canonical"
    # envelope: seq as uint32, validly signed; the wider form must not be a second id
    envelope = _reencode(entry.envelope, b"\xc4 " + GROUP + b"\x01",
                         b"\xc4 " + GROUP + b"\xce\x00\x00\x00\x01")
    assert msgpack.unpackb(envelope) == msgpack.unpackb(entry.envelope)
    signature = nacl.bindings.crypto_sign(envelope, SECRET)[:64]
    assert kind_of(msgpack.packb([envelope, signature, b"hello"])) == "non_canonical"
    # envelope: content size as uint16
    envelope = entry.envelope[:-1] + b"\xcd\x00\x05"
    signature = nacl.bindings.crypto_sign(envelope, SECRET)[:64]
    assert kind_of(msgpack.packb([envelope, signature, b"hello"])) == "non_canonical"


def test_content_mismatches() -> None:
    assert kind_of(craft(wire_content=b"jello")) == "content_hash_mismatch"
    assert kind_of(craft(wire_content=b"hello!")) == "content_size_mismatch"
    assert kind_of(craft({7: 6})) == "content_size_mismatch"
    assert kind_of(craft({6: bytes(32)})) == "content_hash_mismatch"
    assert kind_of(craft(wire_content=b"")) == "content_size_mismatch"


def test_missing_content_is_checked_after_the_envelope() -> None:
    assert kind_of(craft({6: bytes(32), 7: 999}, wire_content=None)) == "missing_content"
    assert kind_of(craft({3: 0}, wire_content=None)) == "malformed"
    assert kind_of(craft({7: 6}, wire_content=None)) == "missing_content"


def test_decode_does_not_check_the_signature() -> None:
    entry = decode(craft(signature=bytes(64)))
    assert not entry.signature_ok()
    entry = decode(craft(signature=OTHER.sign(b"whatever").signature))
    assert not entry.signature_ok()


def test_decode_errors_are_validation_errors() -> None:
    with pytest.raises(errors.ValidationError) as info:
        decode(b"")
    err = info.value
    assert err.exit_code == 3 and not err.fatal
    assert err.feed is None and err.seq is None and err.entry is None


# ---------------------------------------------------------------------- errors


def test_error_kinds_are_stable() -> None:
    kinds = {
        errors.SsbMoneyError: "error",
        errors.BadInput: "bad_input",
        errors.IdentityExists: "identity_exists",
        errors.NoIdentity: "no_identity",
        errors.OperationFailed: "operation_failed",
        errors.StoreError: "store_error",
        errors.ValidationError: "invalid",
        errors.MalformedEntry: "malformed",
        errors.TruncatedEntry: "truncated",
        errors.NonCanonical: "non_canonical",
        errors.Oversized: "oversized",
        errors.UnsupportedVersion: "unsupported_version",
        errors.WrongAuthor: "wrong_author",
        errors.WrongGroup: "wrong_group",
        errors.SequenceGap: "sequence_gap",
        errors.WrongPrevious: "wrong_previous",
        errors.BadSignature: "bad_signature",
        errors.ContentHashMismatch: "content_hash_mismatch",
        errors.ContentSizeMismatch: "content_size_mismatch",
        errors.MissingContent: "missing_content",
        errors.Fork: "fork",
        errors.ForkedFeed: "forked_feed",
    }
    for cls, kind in kinds.items():
        assert cls.kind == kind
        assert issubclass(cls, errors.SsbMoneyError)
    assert len(set(kinds.values())) == len(kinds)


def test_error_exit_codes_and_fatality() -> None:
    assert errors.BadInput("x").exit_code == 2
    assert errors.IdentityExists("x").exit_code == 2
    assert errors.OperationFailed("x").exit_code == 1
    assert errors.StoreError("x").exit_code == 1
    assert errors.BadSignature("x").exit_code == 3
    fatal = {cls for cls in (errors.Fork, errors.ForkedFeed)}
    for cls in errors.ValidationError.__subclasses__():
        assert cls.fatal == (cls in fatal), cls
    assert issubclass(errors.TruncatedEntry, errors.MalformedEntry)


def test_error_message_and_location() -> None:
    err = errors.WrongPrevious("bad link", seq=4)
    assert err.message == "bad link" and str(err) == "bad link"
    assert err.located(b"f", 9, b"e") is err
    assert (err.feed, err.seq, err.entry) == (b"f", 4, b"e")  # seq was already known
    err.located(b"g", 5, b"h")
    assert (err.feed, err.seq, err.entry) == (b"f", 4, b"e")
