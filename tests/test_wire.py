"""The replication messages: every shape round-trips, anything else is a ProtocolError."""

from __future__ import annotations

import struct

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ssbmoney.core.errors import ProtocolError
from ssbmoney.core.wire import (
    MAX_MESSAGE,
    Ack,
    Batch,
    Bye,
    Done,
    Error,
    Frontier,
    Hello,
    Need,
    Ping,
    Reassembler,
    decode,
    encode,
)

MESSAGES = [
    Hello(bytes(32), bytes(64), bytes(32), True),
    Frontier(((bytes(32), ((1, bytes(32)),)),)),
    Need((bytes(32), bytes([1]) * 32)),
    Batch(3, 10, (b"abc", b"d"), ((b"x", b"y"),)),
    Ack(3, 2, "bound"),
    Done(), Ping(), Bye(), Error("no"),
]


@pytest.mark.parametrize("message", MESSAGES, ids=lambda m: type(m).__name__)
def test_round_trip(message: object) -> None:
    data = encode(message)  # type: ignore[arg-type]
    assert Reassembler().feed(data) == [message]


def test_a_stream_cut_anywhere_reassembles() -> None:
    data = b"".join(encode(m) for m in MESSAGES)  # type: ignore[arg-type]
    for cut in range(0, len(data), 7):
        r = Reassembler()
        assert r.feed(data[:cut]) + r.feed(data[cut:]) == MESSAGES


@given(st.binary(max_size=300))
def test_hostile_bodies_raise_only_protocol_errors(body: bytes) -> None:
    try:
        decode(body)
    except ProtocolError:
        pass


@pytest.mark.parametrize("body", [
    [0, bytes(31), bytes(64), bytes(32), True],  # short key
    [0, bytes(32), bytes(64), bytes(32), 1],  # live not a bool
    [1, [[bytes(32), [[-1, bytes(32)]]]]],  # negative sequence
    [2, 0, 0, ["text"], []],  # an entry that is not bytes
    [3, 0, 0, "x" * 2000],  # refusal text too long
    [4, "extra"], [9], "not a list",
])
def test_malformed_shapes_are_refused(body: object) -> None:
    with pytest.raises(ProtocolError):
        decode(msgpack.packb(body, use_bin_type=True))


def test_an_announced_length_past_the_limit_is_refused_before_buffering() -> None:
    r = Reassembler()
    with pytest.raises(ProtocolError, match="limit"):
        r.feed(struct.pack(">I", MAX_MESSAGE + 1) + b"x")
    assert r.buffered <= 5
