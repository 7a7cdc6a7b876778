"""Two network namespaces joined by a veth pair, and the processes that run in them.

LAN discovery is tested between "machines" that share no socket and no loopback: each
namespace has its own interfaces, its own port 5353 and its own broadcast domain, and
nothing sent in them reaches the host's networks. Making namespaces needs root and
iproute2; ``netns_unavailable()`` says why not where they cannot be made.

Run as a script inside a namespace (``ip netns exec NS python netns_helpers.py MODE
JSON``), it is one node: ``node`` runs a ``LanDiscovery`` and reports the peers it found
and the tokens it announced; ``inspect`` only browses with zeroconf, as an eavesdropper
would, and reports every record it cached.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve()


def netns_unavailable() -> str | None:
    """Why namespaces cannot be made here, or None when they can."""
    if os.geteuid() != 0:
        return "making network namespaces needs root"
    if shutil.which("ip") is None:
        return "making network namespaces needs iproute2 (`ip`)"
    probe = f"ssbmprobe{os.getpid()}"
    made = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if made.returncode != 0:
        return f"`ip netns add` failed: {made.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return None


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True)


def subnet(link: int) -> str:
    """The /24 of link ``link`` (private to the namespaces, never routed out)."""
    return f"10.{77 + link}.0"


@contextmanager
def netns_chain(tag: str, count: int = 2) -> Iterator[list[str]]:
    """``count`` namespaces in a line, each joined to the next by a veth link: on link
    ``i`` namespace ``i`` is ``subnet(i).1`` and namespace ``i + 1`` is ``subnet(i).2``.
    Names carry the pid and ``tag``, so tests in parallel (pytest -n) never share one."""
    pid = os.getpid()
    names = [f"ssbm{pid}{tag}{i}" for i in range(count)]
    made: list[str] = []
    try:
        for ns in names:
            _ip("netns", "add", ns)
            made.append(ns)
            _ip("-n", ns, "link", "set", "lo", "up")
        for i in range(count - 1):
            ends = [(names[i], f"v{pid}{tag}{i}a", 1), (names[i + 1], f"v{pid}{tag}{i}b", 2)]
            _ip("link", "add", ends[0][1], "netns", ends[0][0], "type", "veth",
                "peer", "name", ends[1][1], "netns", ends[1][0])
            for ns, dev, host in ends:
                _ip("-n", ns, "addr", "add", f"{subnet(i)}.{host}/24",
                    "brd", f"{subnet(i)}.255", "dev", dev)
                _ip("-n", ns, "link", "set", dev, "up")
        yield names
    finally:
        for ns in made:  # deleting a namespace deletes its veth ends, and so the links
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)


def run_in(specs: Sequence[tuple[str, str, dict[str, Any]]], timeout: float = 30
           ) -> list[dict[str, Any]]:
    """Run nodes ``(namespace, mode, spec)`` side by side; their JSON reports, in order.
    All start together, once each has loaded: a slow start must not shorten the time
    they overlap."""
    procs = [subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, str(HERE), mode,
                               json.dumps(spec)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for ns, mode, spec in specs]
    try:
        for proc in procs:
            assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        reports = []
        for proc in procs:
            out, err = proc.communicate(timeout=timeout)
            assert proc.returncode == 0, err
            reports.append(json.loads(out))
        return reports
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def three_homes(ns_a: str, ns_b: str, keys: Sequence[bytes], **common: Any
                ) -> list[tuple[str, str, dict[str, Any]]]:
    """Nodes: in a, a member of group 01; in b, a member of 01 and 02, and a home of
    another group (03) alone: ports 1001, 1002, 1003."""
    a, b = f"{subnet(0)}.1", f"{subnet(0)}.2"
    k1, k2, k3 = (k.hex() for k in keys)
    return [(ns_a, "node", dict(common, keys={"01": k1}, port=1001, address=a)),
            (ns_b, "node", dict(common, keys={"01": k1, "02": k2}, port=1002, address=b)),
            (ns_b, "node", dict(common, keys={"03": k3}, port=1003, address=b))]


def peers(report: dict[str, Any]) -> set[tuple[str, str, int]]:
    """``(group hex, host, port)`` a node reported."""
    return {(g, h, p) for g, h, p, _ in report["peers"]}


def leaks(spy: dict[str, Any], announced: dict[str, int], addresses: set[str]) -> list[Any]:
    """Every record an ``inspect`` node cached that says more than a token of
    ``announced`` (token -> port), its port, and one of ``addresses``."""
    from ssbmoney.net.discovery import SERVICE_TYPE

    bad = []
    for name, kind, data in spy["records"]:
        label = name.split(".")[0]
        port = announced.get(label) if name != SERVICE_TYPE else None
        ok = {
            SERVICE_TYPE: kind == "PTR" and data.split(".")[0] in announced,
            f"{label}.{SERVICE_TYPE}": data in (f"{label}.local.:{port}",
                                                 f"p={port}".encode().hex().join(["06", ""])),
            f"{label}.local.": port is not None and (kind == "DNSNsec" or data in addresses),
        }.get(name, False)
        if not ok:
            bad.append([name, kind, data])
    return bad


# ---- inside a namespace ---------------------------------------------------------------


async def _node(spec: dict[str, Any]) -> dict[str, Any]:
    from ssbmoney.net.discovery import LanDiscovery

    start = time.monotonic()
    base, speed = spec.get("clock_base", time.time_ns() // 1_000_000), spec.get("speed", 1)

    def clock() -> int:
        return int(base + (time.monotonic() - start) * 1000 * speed)

    peers: list[list[Any]] = []
    tokens: list[list[Any]] = []

    def on_peer(group: bytes, host: str, port: int) -> None:
        peers.append([group.hex(), host, port, time.monotonic() - start])

    keys = {bytes.fromhex(g): bytes.fromhex(k) for g, k in spec["keys"].items()}
    address = spec["address"]  # one, or a list for a home on several links
    disc = LanDiscovery(keys, spec["port"], on_peer,
                        interfaces=address if isinstance(address, list) else [address],
                        clock=clock, udp_port=spec["udp_port"],
                        broadcast_address=spec.get("broadcast_address", "10.77.0.255"),
                        rotate_ms=spec.get("rotate_ms", 600_000),
                        beacon_interval=spec.get("interval", 0.3),
                        mdns=spec.get("mdns", True), broadcast=spec.get("broadcast", True))
    await disc.start()
    try:
        while time.monotonic() - start < spec["seconds"]:
            now = sorted(disc.tokens)
            if not tokens or tokens[-1][1] != now:
                tokens.append([time.monotonic() - start, now])
            await asyncio.sleep(0.05)
    finally:
        await disc.stop()
    return {"peers": peers, "tokens": tokens}


def _record(r: Any) -> list[Any]:
    """``[name, kind, what it says]`` of a cached DNS record."""
    from zeroconf import DNSAddress, DNSPointer, DNSService, DNSText

    if isinstance(r, DNSPointer):
        return [r.name, "PTR", r.alias]
    if isinstance(r, DNSService):
        return [r.name, "SRV", f"{r.server}:{r.port}"]
    if isinstance(r, DNSText):
        return [r.name, "TXT", r.text.hex()]
    if isinstance(r, DNSAddress):
        return [r.name, "A", str(ipaddress.ip_address(r.address))]
    return [r.name, type(r).__name__, repr(r)]


async def _inspect(spec: dict[str, Any]) -> dict[str, Any]:
    """What an eavesdropper on the link learns through zeroconf: every record cached."""
    from zeroconf import IPVersion
    from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

    from ssbmoney.net.discovery import SERVICE_TYPE

    names: set[str] = set()
    zc = AsyncZeroconf(interfaces=[spec["address"]], ip_version=IPVersion.V4Only)
    browser = AsyncServiceBrowser(zc.zeroconf, SERVICE_TYPE, handlers=[
        lambda zeroconf, service_type, name, state_change: names.add(name)])
    await asyncio.sleep(spec["seconds"])
    services = []
    for name in sorted(names):
        info = AsyncServiceInfo(SERVICE_TYPE, name)
        if await info.async_request(zc.zeroconf, 2000):
            services.append({
                "name": name, "server": info.server, "port": info.port,
                "properties": {k.decode(): None if v is None else v.decode()
                               for k, v in info.properties.items()},
                "addresses": info.parsed_addresses(IPVersion.All)})
    records = [_record(r) for name in zc.zeroconf.cache.names()
               for r in zc.zeroconf.cache.entries_with_name(name)]
    await browser.async_cancel()
    await zc.async_close()
    return {"services": services, "records": records}


if __name__ == "__main__":
    import zeroconf.asyncio  # noqa: F401  (loaded before "ready", as is the rest)

    import ssbmoney.net.discovery  # noqa: F401

    mode, raw = sys.argv[1], json.loads(sys.argv[2])
    print("ready", flush=True)
    sys.stdin.readline()
    result = asyncio.run(_node(raw) if mode == "node" else _inspect(raw))
    print(json.dumps(result))
