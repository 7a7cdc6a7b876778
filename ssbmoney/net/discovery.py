"""LAN discovery for ``serve --lan``: announce this home's groups, find their other homes.

Both ways carry only rotating tokens (``ssbmoney.core.lan``) and a TCP port:

- mDNS/DNS-SD through zeroconf: a ``_ssbmoney._tcp.local.`` service per group and per
  interface address, named by a token; SRV target ``<token>.local.`` (no host name),
  TXT only ``p=<port>``, A only that interface's address. Each address has its own
  Zeroconf bound to its link and its own tokens: a home on two networks tells neither
  of the other, and no token matches it across them.
- UDP beacons to a broadcast address every few seconds, where multicast is blocked.

At each new rotation period (an epoch by default) every token is re-made with a fresh
nonce and the old services are withdrawn. Services register without probing: a clash
with a random 208-bit name can only be a replay of ours, and probing would let the
replayer stop us announcing. Members resolve only their groups' tokens; others are
dropped without a packet sent. ``on_peer(group id, host, port)`` comes again at each
rotation and beacon (the caller dedupes); nothing a peer sends raises out of here.

Still visible: that a machine runs ssbmoney (service type, beacon magic), how many
groups it announces, its address. A token replayed within its epochs points members
at the replayer: only the sync handshake tells a member. Binding each Zeroconf to its
link is Linux-only; elsewhere one link's query may get another link's address.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import os
import socket
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import ifaddr  # zeroconf's own way to list interfaces; it depends on it
from zeroconf import InterfaceChoice, IPVersion, ServiceStateChange, Zeroconf
from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

from ssbmoney.core import lan
from ssbmoney.core.lan import EPOCH_MS

SERVICE_TYPE = "_ssbmoney._tcp.local."
DEFAULT_UDP_PORT = 47474
BEACON_INTERVAL = 5.0
"""Seconds between beacons, and between checks for a new rotation period."""
RESOLVE_TIMEOUT_MS = 3000
RECORD_TTL = 2 * EPOCH_MS // 1000
"""Seconds: no record outlives the window in which its token can be recognised."""
_KEEP_MS = 3 * EPOCH_MS
"""Own tokens and resolved names are remembered while they could still be recognised."""

OnPeer = Callable[[bytes, str, int], None]
log = logging.getLogger(__name__)


def _local_ipv4() -> list[str]:
    """Every IPv4 address of this machine except loopback (IPv6 is left out: its
    addresses can embed a hardware address)."""
    found = {ip.ip for adapter in ifaddr.get_adapters() for ip in adapter.ips
             if isinstance(ip.ip, str)}
    return sorted(a for a in found if not ipaddress.IPv4Address(a).is_loopback)


_SO_BINDTOIFINDEX = 62  # Linux >= 5.0; Python does not name it


def _hear_only_own_link(zc: AsyncZeroconf, address: str) -> None:
    """Bind one link's Zeroconf listen socket to that link's interface: it binds to all
    addresses, and Linux hands it multicast from any link some socket joined, so it
    would answer another link's queries (unicast, with this link's address and token).
    Any user may bind to an interface (Linux >= 5.7); best effort, as zeroconf does not
    expose its listen socket."""
    index = next((a.index for a in ifaddr.get_adapters()
                  for ip in a.ips if ip.ip == address), None)
    engine = zc.zeroconf.engine
    sock: Any = (getattr(engine, "_listen_socket", None)  # before it starts, then:
                 or getattr(getattr(engine, "_listen_transport", None), "sock", None))
    if sys.platform == "linux" and hasattr(sock, "setsockopt") and index is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, _SO_BINDTOIFINDEX, index)
        except OSError as exc:
            log.info("LAN discovery: %s may hear other links: %s", address, exc)


@dataclass
class _Channel:
    """One interface address: its own Zeroconf, its browser, the services it announces."""

    address: str
    zc: AsyncZeroconf
    browser: AsyncServiceBrowser
    infos: list[AsyncServiceInfo] = field(default_factory=list)

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.browser.async_cancel()
        with contextlib.suppress(Exception):
            await self.zc.async_close()  # sends goodbyes for what is registered


class _BeaconProtocol(asyncio.DatagramProtocol):
    """Hands each datagram to LanDiscovery; socket errors (no route, ...) are not ours."""

    def __init__(self, on_datagram: Callable[[bytes, Any], None]) -> None:
        self._on_datagram = on_datagram

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self._on_datagram(data, addr)

    def error_received(self, exc: Exception) -> None:
        log.debug("LAN beacon socket: %s", exc)


class LanDiscovery:
    """Announces one token per group and finds the homes announcing our groups."""

    def __init__(self, keys: Mapping[bytes, bytes], port: int, on_peer: OnPeer, *,
                 interfaces: InterfaceChoice | Sequence[str] = InterfaceChoice.All,
                 clock: Callable[[], int] = lambda: time.time_ns() // 1_000_000,
                 udp_port: int = 0, broadcast_address: str = "255.255.255.255",
                 rotate_ms: int = EPOCH_MS,
                 beacon_interval: float = BEACON_INTERVAL, mdns: bool = True,
                 broadcast: bool = True) -> None:
        if not 0 < port < 65536:
            raise ValueError("a port is 1..65535")
        if not 0 < rotate_ms <= EPOCH_MS:
            # Rotating less often would announce tokens past the epochs they are valid in.
            raise ValueError(f"rotate_ms is 1..{EPOCH_MS}")
        if not isinstance(interfaces, InterfaceChoice):
            interfaces = [str(ipaddress.IPv4Address(a)) for a in interfaces]
        ipaddress.IPv4Address(broadcast_address)  # an address: sendto must not resolve names
        self._keys = dict(keys)
        self._port = port
        self._on_peer = on_peer
        self._interfaces = interfaces
        self._clock = clock
        self._udp_port = udp_port or DEFAULT_UDP_PORT
        self._broadcast_address = broadcast_address
        self._rotate_ms = rotate_ms
        self._interval = beacon_interval
        self._mdns = mdns
        self._broadcast = broadcast
        self._own: dict[str, int] = {}  # every token we made lately -> when
        self._resolving: dict[tuple[int, str], int] = {}  # (zeroconf, name) -> when
        self._channels: dict[str, _Channel] = {}
        self._udp_tokens: list[str] = []
        self._transport: asyncio.DatagramTransport | None = None
        self._runner: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._rotation: int | None = None

    @property
    def tokens(self) -> frozenset[str]:
        """The tokens announced now, by mDNS and beacon alike."""
        names = {info.name[: -len(SERVICE_TYPE) - 1]
                 for ch in self._channels.values() for info in ch.infos}
        return frozenset(names | set(self._udp_tokens))

    async def start(self) -> None:
        if self._runner is not None:
            return
        if self._broadcast:
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
                sock.bind(("", self._udp_port))
                sock.setblocking(False)
            except OSError:
                sock.close()
                raise
            loop = asyncio.get_running_loop()
            transport, _ = await loop.create_datagram_endpoint(
                lambda: _BeaconProtocol(self._on_datagram), sock=sock)
            self._transport = transport
        await self._rotate()
        self._runner = asyncio.create_task(self._run())

    async def stop(self) -> None:
        tasks = [t for t in (self._runner, *self._tasks) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._runner = None
        self._tasks.clear()
        if self._transport is not None:
            self._transport.close()
            self._transport = None
        channels, self._channels = list(self._channels.values()), {}
        await asyncio.gather(*(ch.close() for ch in channels))
        self._udp_tokens = []

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                if self._clock() // self._rotate_ms != self._rotation:
                    await self._rotate()
                else:
                    self._send_beacons()
            except Exception:
                log.exception("LAN discovery tick failed")

    def _new_token(self, key: bytes, now: int) -> str:
        token = lan.make_token(key, now, os.urandom(lan.NONCE_LEN), self._port)
        self._own[token] = now
        return token

    async def _rotate(self) -> None:
        """Fresh tokens everywhere, the old ones withdrawn (and still ignored as ours)."""
        now = self._clock()
        self._rotation = now // self._rotate_ms
        self._own = {t: made for t, made in self._own.items() if now - made < _KEEP_MS}
        self._resolving = {k: at for k, at in self._resolving.items() if now - at < _KEEP_MS}
        if self._mdns:
            await self._update_channels()
            for ch in list(self._channels.values()):
                await self._reregister(ch, now)
        if self._broadcast:
            self._udp_tokens = [self._new_token(key, now) for key in self._keys.values()]
            self._send_beacons()

    async def _update_channels(self) -> None:
        """Follow the interface addresses (for InterfaceChoice.All they can change)."""
        wanted = (_local_ipv4() if isinstance(self._interfaces, InterfaceChoice)
                  else list(self._interfaces))
        for address in [a for a in self._channels if a not in wanted]:
            await self._channels.pop(address).close()
        for address in wanted:
            if address in self._channels:
                continue
            try:
                zc = AsyncZeroconf(interfaces=[address], ip_version=IPVersion.V4Only)
            except Exception as exc:  # an address gone since it was listed, and the like
                log.warning("LAN discovery cannot use %s: %s", address, exc)
                continue
            _hear_only_own_link(zc, address)
            browser = AsyncServiceBrowser(zc.zeroconf, SERVICE_TYPE,
                                          handlers=[self._on_service])
            self._channels[address] = _Channel(address, zc, browser)

    async def _reregister(self, ch: _Channel, now: int) -> None:
        old, ch.infos = ch.infos, []
        for key in self._keys.values():
            token = self._new_token(key, now)
            info = AsyncServiceInfo(
                SERVICE_TYPE, f"{token}.{SERVICE_TYPE}", port=self._port,
                properties=lan.txt_record(self._port), server=f"{token}.local.",
                parsed_addresses=[ch.address], host_ttl=RECORD_TTL, other_ttl=RECORD_TTL)
            try:
                await ch.zc.async_register_service(info, cooperating_responders=True)
            except Exception:
                log.exception("LAN discovery could not announce on %s", ch.address)
                continue
            ch.infos.append(info)
        for info in old:
            with contextlib.suppress(Exception):
                await ch.zc.async_unregister_service(info)

    def _send_beacons(self) -> None:
        if self._transport is None:
            return
        for token in self._udp_tokens:
            self._transport.sendto(lan.encode_beacon(token, self._port),
                                   (self._broadcast_address, self._udp_port))

    def _recognise(self, token: str, port: int) -> bytes | None:
        if token in self._own:
            return None
        return lan.recognise(self._keys, token, self._clock(), port)

    def _report(self, group: bytes, host: str, port: int) -> None:
        try:
            self._on_peer(group, host, port)
        except Exception:
            log.exception("on_peer failed for a LAN peer")

    def _on_datagram(self, data: bytes, addr: Any) -> None:
        try:
            beacon = lan.decode_beacon(data)
            if beacon is None:
                return
            group = self._recognise(beacon[0], beacon[1])
            if group is not None:
                self._report(group, str(addr[0]), beacon[1])
        except Exception:
            log.exception("LAN beacon handling failed")

    def _on_service(self, zeroconf: Zeroconf, service_type: str, name: str,
                    state_change: ServiceStateChange) -> None:
        try:
            key = (id(zeroconf), name)
            if (state_change is ServiceStateChange.Removed or key in self._resolving
                    or service_type != SERVICE_TYPE or not name.endswith("." + SERVICE_TYPE)):
                return
            token = name[: -len(SERVICE_TYPE) - 1]
            # The MAC covers the port, which only resolving tells: resolve what is spelt
            # as a token and not ours, then check it with the port announced.
            if lan.is_token(token) and token not in self._own:
                self._resolving[key] = self._clock()
                task = asyncio.get_running_loop().create_task(
                    self._resolve(zeroconf, name, token, key))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
        except Exception:
            log.exception("LAN service handling failed")

    async def _resolve(self, zeroconf: Zeroconf, name: str, token: str,
                       key: tuple[int, str]) -> None:
        try:
            info = AsyncServiceInfo(SERVICE_TYPE, name)
            ok = await info.async_request(zeroconf, RESOLVE_TIMEOUT_MS)
            port = lan.txt_port(info.properties) if ok else None
            hosts = info.parsed_addresses(IPVersion.V4Only)
            if port is None or not hosts:
                self._resolving.pop(key, None)  # let a later announcement try again
                return
            group = self._recognise(token, port)
            if group is not None:
                self._report(group, hosts[0], port)  # a home announces one address per token
        except Exception:
            self._resolving.pop(key, None)
            log.exception("LAN service resolution failed")
