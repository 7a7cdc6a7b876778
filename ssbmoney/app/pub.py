"""A pub: an always-on peer that stores and relays a group's feeds without reading them.

A pub's home holds, under ``pub/``, its own ed25519 key (made by the first ``pub
host``, bound to every session like a member's) and, per hosted group, what a pub
code carries — the group id, the sync capability and the founder's key — plus the
group's store. It never holds a group's content key, so it can check every entry's
signature, chain and group, but cannot read content or forge an entry. It needs no
``init``.

What a pub keeps of one group is bounded: entries per feed, and bytes in all. An entry
past a bound is refused, the sender is told (in its acknowledgement), and everything
else keeps flowing.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import NamedTuple

from ssbmoney.app.home import write_private
from ssbmoney.core.errors import BadInput, StoreError
from ssbmoney.core.group import PubCode, decode_pub_code
from ssbmoney.core.keys import KeyPair, keypair
from ssbmoney.core.session import session_psk
from ssbmoney.net.peer import Endpoint
from ssbmoney.net.replica import Bounds
from ssbmoney.store.paths import HomePaths

FEED_ENTRIES = 1_000_000
"""Default bound: entries one feed may have on a pub."""
GROUP_BYTES = 4 * 1024**3
"""Default bound: bytes of entries (and fork proofs) one group may have on a pub (4 GiB)."""
BRANCHES = 4
"""Entries a pub keeps at one sequence of one feed: a fork has two; a feed forked many
ways at once is an attack on the pub's disk, not a member's lost laptop."""


class Hosted(NamedTuple):
    code: PubCode
    bounds: Bounds


class Pub:
    def __init__(self, root: Path) -> None:
        self.paths = HomePaths(root)

    def key(self, create: bool = False) -> KeyPair:
        path = self.paths.pub_key
        if not path.exists():
            if not create:
                raise BadInput("this home hosts no group as a pub yet (`ssbmoney pub host CODE`)")
            write_private(path, {"seed": os.urandom(32).hex()}, exclusive=True)
        try:
            return keypair(bytes.fromhex(json.loads(path.read_text())["seed"]))
        except (ValueError, KeyError, TypeError) as err:
            raise StoreError(f"pub key file {path} is damaged: {err}") from None

    def host(self, code: str, feed_entries: int = FEED_ENTRIES,
             group_bytes: int = GROUP_BYTES) -> bytes:
        """Host the group a pub code names (again: update its bounds)."""
        pub_code = decode_pub_code(code)
        if feed_entries < 1 or group_bytes < 1:
            raise BadInput("a pub's bounds must be positive")
        self.key(create=True)
        write_private(self.paths.pub_group_dir(pub_code.group_id) / "hosted.json", {
            "group": pub_code.group_id.hex(), "sync_cap": pub_code.sync_cap.hex(),
            "founder": pub_code.founder.hex(), "feed_entries": feed_entries,
            "group_bytes": group_bytes,
        })
        return pub_code.group_id

    def hosted(self) -> list[Hosted]:
        root = self.paths.pub / "groups"
        if not root.is_dir():
            return []
        out = []
        for child in sorted(root.iterdir()):
            path = child / "hosted.json"
            if not path.is_file():
                continue
            try:
                data = json.loads(path.read_text())
                code = PubCode(bytes.fromhex(data["group"]), bytes.fromhex(data["sync_cap"]),
                               bytes.fromhex(data["founder"]))
                bounds = Bounds(int(data["feed_entries"]), int(data["group_bytes"]), BRANCHES)
            except (ValueError, KeyError, TypeError) as err:
                raise StoreError(f"hosted group file {path} is damaged: {err}") from None
            out.append(Hosted(code, bounds))
        return out

    def endpoints(self) -> list[Endpoint]:
        hosted = self.hosted()
        if not hosted:
            raise BadInput("this home hosts no group as a pub yet (`ssbmoney pub host CODE`)")
        key = self.key()
        return [Endpoint(h.code.group_id, session_psk(h.code.sync_cap), key,
                         self.paths.pub_group_dir(h.code.group_id), h.code.group_id.hex()[:12],
                         h.bounds, h.code.founder) for h in hosted]
