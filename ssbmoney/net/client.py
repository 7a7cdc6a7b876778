"""The sync client: connect to a peer's or pub's URL and run one group's session.

A URL is ``http://HOST:PORT`` (or ``https://``); the session is a WebSocket on its
``/sync`` path. The client sends only the headers a WebSocket upgrade needs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from urllib.parse import urlsplit

import aiohttp

from ssbmoney.core.errors import BadInput, PeerUnreachable, SsbMoneyError
from ssbmoney.core.session import Initiator
from ssbmoney.net.link import MAX_FRAME, WsLink
from ssbmoney.net.peer import Driver, Endpoint, Outcome, Progress
from ssbmoney.net.server import HANDSHAKE_TIMEOUT, SYNC_PATH
from ssbmoney.store.group_store import Store

CONNECT_TIMEOUT = 10.0


def _short(text: str) -> str:
    return text if len(text) <= 60 else text[:57] + "..."


def check_url(url: str) -> str:
    """A peer's URL, normalised (``http://host:port``); bad input otherwise."""
    url = url.strip().rstrip("/")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as err:
        raise BadInput(f"{_short(url)!r} is not a peer URL: {err}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BadInput(f"{_short(url)!r} is not a peer URL (a peer URL looks like"
                       " http://HOST:PORT)")
    if parts.path or parts.query or parts.fragment or parts.username:
        raise BadInput(f"{_short(url)!r}: a peer URL is only http://HOST:PORT")
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{parts.scheme}://{host}" + (f":{port}" if port else "")


def ws_url(url: str) -> str:
    url = check_url(url)
    return ("wss" + url[5:] if url.startswith("https") else "ws" + url[4:]) + SYNC_PATH


async def sync_group(url: str, endpoint: Endpoint, clock: Callable[[], int], *,
                     live: bool = False, stop: asyncio.Event | None = None,
                     progress: Callable[[Progress], None] | None = None,
                     connect_timeout: float = CONNECT_TIMEOUT) -> Outcome:
    """One group's session with the peer at ``url``. Failures come back in the outcome
    (``error`` and ``kind``); a peer that does not hold the group gives ``not_shared``."""
    target = ws_url(url)
    timeout = aiohttp.ClientTimeout(total=None, connect=connect_timeout,
                                    sock_connect=connect_timeout)
    try:
        async with aiohttp.ClientSession(
            timeout=timeout, skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding")
        ) as http:
            try:
                ws = await asyncio.wait_for(
                    http.ws_connect(target, max_msg_size=MAX_FRAME, compress=0,
                                    autoping=True), connect_timeout)
            except (aiohttp.ClientError, OSError, TimeoutError) as err:
                raise PeerUnreachable(f"cannot reach {url}: {_why(err, connect_timeout)}"
                                      ) from None
            link = WsLink(ws)
            try:
                return await _session(link, endpoint, clock, live, stop, progress)
            finally:
                await link.close()
    except SsbMoneyError as err:
        return Outcome(endpoint.group, error=err.message, kind=err.kind)


def _why(err: BaseException, timeout: float) -> str:
    """What went wrong connecting, in a user's words."""
    if isinstance(err, TimeoutError):
        return f"no answer within {timeout:g} s"
    if isinstance(err, aiohttp.ClientSSLError) or "SSL" in str(err):
        return "it does not speak https (ssbmoney peers speak plain http: use http://)"
    if isinstance(err, aiohttp.WSServerHandshakeError):
        return f"it does not answer as an ssbmoney peer (HTTP {err.status})"
    if isinstance(err, aiohttp.ClientConnectorError):
        cause = err.os_error
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused (is the peer running, on this port?)"
        return (cause.strerror or str(cause)) if isinstance(cause, OSError) else str(err)
    return str(err) or type(err).__name__


async def _session(link: WsLink, endpoint: Endpoint, clock: Callable[[], int], live: bool,
                   stop: asyncio.Event | None,
                   progress: Callable[[Progress], None] | None) -> Outcome:
    initiator = Initiator(endpoint.psk, endpoint.key.secret, clock())
    await link.send(initiator.first)
    third, transport = initiator.finish(await link.recv(HANDSHAKE_TIMEOUT))
    await link.send(third)
    store = await asyncio.to_thread(Store, endpoint.directory, endpoint.group)
    try:
        return await Driver(link, transport, endpoint, store, live=live, stop=stop,
                            progress=progress).run()
    finally:
        await asyncio.to_thread(store.close)
