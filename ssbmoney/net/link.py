"""An aiohttp WebSocket (server or client side) as the driver's ``Link``: whole binary
messages, each at most one Noise message long, with timeouts and typed errors."""

from __future__ import annotations

import asyncio

from aiohttp import WSCloseCode, WSMsgType, web
from aiohttp.client_ws import ClientWebSocketResponse

from ssbmoney.core.errors import PeerUnreachable, ProtocolError
from ssbmoney.core.noise import MAX_MESSAGE

MAX_FRAME = MAX_MESSAGE + 1
"""aiohttp's ``max_msg_size``, which refuses a message of that size or more: one Noise
message (65,535 bytes) is the largest taken. Anything larger is cut off by aiohttp
before it is buffered whole."""


class WsLink:
    def __init__(self, ws: web.WebSocketResponse | ClientWebSocketResponse) -> None:
        self.ws = ws
        self.bytes_in = 0
        self.bytes_out = 0

    async def send(self, data: bytes) -> None:
        try:
            await self.ws.send_bytes(data)
        except (ConnectionError, RuntimeError) as err:
            raise PeerUnreachable(f"the connection was lost: {err}") from None
        self.bytes_out += len(data)

    async def recv(self, timeout: float) -> bytes:
        try:
            message = await asyncio.wait_for(self.ws.receive(), timeout)
        except TimeoutError:
            raise PeerUnreachable(f"the peer was silent for {timeout:.0f} s") from None
        if message.type is WSMsgType.BINARY:
            data: bytes = message.data
            self.bytes_in += len(data)
            return data
        if message.type is WSMsgType.ERROR:
            err = message.data
            if getattr(err, "code", None) == WSCloseCode.MESSAGE_TOO_BIG:
                raise ProtocolError(f"the peer sent an oversized frame (the limit is"
                                    f" {MAX_MESSAGE} bytes)")
            raise PeerUnreachable(f"the connection failed: {err}")
        if message.type is WSMsgType.TEXT:
            raise ProtocolError("the peer sent text where the protocol has binary")
        raise PeerUnreachable("the connection was closed before the session ended")

    async def close(self) -> None:
        try:
            await asyncio.wait_for(self.ws.close(), 5)
        except Exception:  # already gone: nothing to close
            pass
