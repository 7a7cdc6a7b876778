"""Every path ssbmoney uses, in one place.

A *home* holds one identity and the groups it belongs to::

    HOME/identity.json          the member's ed25519 identity (owner-only)
    HOME/groups/<group hex>/    one group: group.json (owner-only) and its Store files

``--home`` wins, then ``$SSBMONEY_HOME``, then the platform's user data directory.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

ENV_VAR = "SSBMONEY_HOME"


def default_home() -> Path:
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env)
    return Path(platformdirs.user_data_dir("ssbmoney", appauthor=False))


class HomePaths:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    @property
    def identity(self) -> Path:
        return self.root / "identity.json"

    @property
    def groups(self) -> Path:
        return self.root / "groups"

    def group_dir(self, group: bytes) -> Path:
        return self.groups / group.hex()

    def group_file(self, group: bytes) -> Path:
        return self.group_dir(group) / "group.json"

    def peers_file(self, group: bytes) -> Path:
        """The group's known peers and pubs, with their last sync (never folded)."""
        return self.group_dir(group) / "peers.json"

    @property
    def pub(self) -> Path:
        """A pub's own part of a home: its key and the groups it hosts."""
        return self.root / "pub"

    @property
    def pub_key(self) -> Path:
        return self.pub / "key.json"

    def pub_group_dir(self, group: bytes) -> Path:
        return self.pub / "groups" / group.hex()
