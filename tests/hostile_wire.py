"""A client holding a group's capability that speaks the sync protocol by hand: the
harness of the attack reviews (``test_attacks_sync*.py``)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import aiohttp

from ssbmoney.core.keys import KeyPair
from ssbmoney.core.session import Initiator, Transport, bind
from ssbmoney.core.wire import Hello, Message, Reassembler, encode


class Wire:
    """One end of a session, after a real handshake, driven message by message."""

    def __init__(self, ws: Any, transport: Transport, key: KeyPair) -> None:
        self.ws = ws
        self.transport = transport
        self.key = key
        self._reassembler = Reassembler()
        self._queue: list[Message] = []

    def hello(self, digest_: bytes = bytes(32), live: bool = False) -> Hello:
        return Hello(self.key.public, bind(self.key.secret, self.transport.handshake_hash),
                     digest_, live)

    async def say(self, *messages: Message) -> None:
        for message in messages:
            for sealed in self.transport.seal(encode(message)):
                await self.ws.send_bytes(sealed)

    async def hear(self, timeout: float = 5.0) -> Message | None:
        """The peer's next message; None once it closed."""
        while not self._queue:
            try:
                frame = await self.ws.receive(timeout=timeout)
            except TimeoutError:
                return None
            if frame.type is not aiohttp.WSMsgType.BINARY:
                return None
            self._queue.extend(self._reassembler.feed(self.transport.open(frame.data)))
        return self._queue.pop(0)


@contextlib.asynccontextmanager
async def open_wire(http: aiohttp.ClientSession, url: str, psk: bytes, key: KeyPair,
                    now_ms: int) -> AsyncIterator[Wire]:
    """A real handshake with the capability (``psk``) as ``key``, then the wire."""
    async with http.ws_connect(url + "/sync", max_msg_size=0) as ws:
        me = Initiator(psk, key.secret, now_ms)
        await ws.send_bytes(me.first)
        third, transport = me.finish((await ws.receive(timeout=5)).data)
        await ws.send_bytes(third)
        yield Wire(ws, transport, key)
