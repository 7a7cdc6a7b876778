"""A peer holding the capability that sends what it should not: a forged, out-of-order,
oversized or non-canonical entry. It is cut off; the valid prefix is kept, and nothing
else is changed."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from net_helpers import NOW, founder, serving

from ssbmoney.app import sync as sync_mod
from ssbmoney.core.entry import create
from ssbmoney.core.keys import keypair
from ssbmoney.core.session import Initiator, bind
from ssbmoney.core.wire import Batch, Bye, Error, Frontier, Hello, Reassembler, encode
from ssbmoney.net.peer import Outcome
from ssbmoney.store.group_store import Store

MALLORY = keypair(bytes([77]) * 32)


def _entries(group: bytes, n: int) -> list[Any]:
    out, previous = [], None
    for seq in range(1, n + 1):
        made = create(MALLORY.secret, MALLORY.public, group, seq, previous, NOW,
                      bytes([seq]) * 300)
        out.append(made)
        previous = made.id
    return out


async def _hostile(url: str, psk: bytes, frames: list[bytes] | None,
                   batch: list[bytes]) -> list[Any]:
    """Handshake with the capability, say hello and frontier, then send ``batch`` (or raw
    ``frames`` after the handshake); returns what the server said."""
    said: list[Any] = []
    async with aiohttp.ClientSession() as http:
        async with http.ws_connect(url + "/sync", max_msg_size=0) as ws:
            me = Initiator(psk, MALLORY.secret, NOW)
            await ws.send_bytes(me.first)
            third, transport = me.finish((await ws.receive()).data)
            await ws.send_bytes(third)
            hello = Hello(MALLORY.public, bind(MALLORY.secret, transport.handshake_hash),
                          bytes(32), False)
            for message in (hello, Frontier(())):
                for sealed in transport.seal(encode(message)):
                    await ws.send_bytes(sealed)
            if frames is not None:
                for frame in frames:
                    await ws.send_bytes(frame)
            else:
                for sealed in transport.seal(encode(Batch(0, len(batch), tuple(batch), ()))):
                    await ws.send_bytes(sealed)
            reassembler = Reassembler()
            while True:
                message = await ws.receive(timeout=10)
                if message.type is not aiohttp.WSMsgType.BINARY:
                    break
                said.extend(reassembler.feed(transport.open(message.data)))
    return said


def _attack(tmp_path: Path, batch_of: Any, frames: bool = False) -> tuple[list[Any], Outcome,
                                                                          Any, int]:
    ana, info = founder(tmp_path)
    with Store(ana.paths.group_dir(info.id), info.id) as store:
        before = store.end()
    outcomes: list[Outcome] = []

    async def go() -> list[Any]:
        async with serving(lambda: sync_mod.endpoints(ana), live=False,
                           on_outcome=outcomes.append) as (_, url):
            batch = batch_of(info.id)
            psk = sync_mod.endpoint(ana, info).psk
            return await _hostile(url, psk, batch if frames else None,
                                  [] if frames else batch)

    said = asyncio.run(go())
    with Store(ana.paths.group_dir(info.id), info.id) as store:
        heads = store.heads()
        grown = store.end() - before
    assert len(outcomes) <= 1
    return said, (outcomes or [Outcome(info.id)])[0], heads.get(MALLORY.public), grown


def _forged(group: bytes) -> list[bytes]:
    entries = [e.raw for e in _entries(group, 4)]
    last = bytearray(entries[3])
    last[-400] ^= 1  # inside the signature: still canonical, no longer Mallory's
    return [*entries[:3], bytes(last)]


def _out_of_order(group: bytes) -> list[bytes]:
    entries = [e.raw for e in _entries(group, 5)]
    return [entries[0], entries[1], entries[4]]


def _non_canonical(group: bytes) -> list[bytes]:
    entries = [e.raw for e in _entries(group, 3)]
    third = entries[2]
    assert third[0] == 0x93  # a fixarray of three: write it as an array16 instead
    return [entries[0], entries[1], b"\xdc\x00\x03" + third[1:]]


def _oversized_entry(group: bytes) -> list[bytes]:
    entries = [e.raw for e in _entries(group, 2)]
    return [*entries, b"\x93" + bytes(70_000)]


@pytest.mark.parametrize("craft,kept", [
    (_forged, 3), (_out_of_order, 2), (_non_canonical, 2), (_oversized_entry, 2)])
def test_a_peer_sending_an_invalid_entry_is_cut_off_keeping_the_valid_prefix(
        tmp_path: Path, craft: Any, kept: int) -> None:
    said, outcome, head, grown = _attack(tmp_path, craft)
    assert any(isinstance(m, Error) and m.text.startswith("refused") for m in said), said
    assert not any(isinstance(m, Bye) for m in said)
    assert outcome.kind == "invalid_entry" and outcome.peer == MALLORY.public
    assert outcome.invalid  # which peer sent what is recorded
    # Chain mode checks the run's last signature; when it fails, the store finds the
    # valid prefix entry by entry.
    assert head is not None and head.seq == kept and grown > 0


def test_an_oversized_frame_ends_the_session_and_changes_nothing(tmp_path: Path) -> None:
    said, outcome, head, grown = _attack(tmp_path, lambda g: [bytes(70_000)], frames=True)
    assert head is None and grown == 0
    assert outcome.kind == "protocol_error" and "oversized frame" in outcome.error
