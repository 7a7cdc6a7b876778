"""The state hash: SHA-256 of the canonical encoding of the budget view.

The canonical encoding is JSON with object keys sorted, no insignificant white
space, UTF-8, and integers only (money is minor units; a float is refused). It is
what ``status --json`` prints, so anyone can check a state hash with any JSON
library: drop ``state_hash`` from the object, encode it this way, hash it.
"""

from __future__ import annotations

import hashlib
import json
import json.encoder
from typing import Any

_encoder = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
)


def _no_floats(value: Any) -> None:
    if isinstance(value, float):
        raise TypeError("no floats in the budget view")
    if isinstance(value, dict):
        for item in value.values():
            _no_floats(item)
    elif isinstance(value, list | tuple):
        for item in value:
            _no_floats(item)


def _refuse(value: Any) -> Any:
    raise TypeError(f"not JSON: {value!r}")


# The json module's C encoder, made once (JSONEncoder.encode makes one per call).
_make = getattr(json.encoder, "c_make_encoder", None)
_fast = (
    _make(None, _refuse, json.encoder.encode_basestring, None, ":", ",", True, False, False)
    if _make is not None else None
)


_fast_in_order = (
    _make(None, _refuse, json.encoder.encode_basestring, None, ":", ",", False, False, False)
    if _make is not None else None
)


def canonical_in_order(value: dict[str, Any]) -> str:
    """``canonical`` for a dict its builder filled in sorted key order, at every level
    (the fold's rows): the same text, without sorting again. Tests check every view's
    hash against the reference definition, which sorts."""
    if _fast_in_order is None:
        return canonical(value, checked=True)
    return "".join(_fast_in_order(value, 0))


def canonical(value: Any, checked: bool = False) -> str:
    """The canonical JSON text of a view (or of any part of one). ``checked``: the
    caller built ``value`` from integers and text only, so the float walk is skipped."""
    if not checked:
        _no_floats(value)
        return _encoder.encode(value)
    if _fast is None or not isinstance(value, dict | list):
        return _encoder.encode(value)
    return "".join(_fast(value, 0))


def digest_object(parts: dict[str, str]) -> str:
    """The digest of the canonical text of an object, given its members' canonical
    texts, fed to the hash piece by piece (a large view is never copied whole)."""
    hasher = hashlib.sha256(b"{")
    for index, key in enumerate(sorted(parts)):
        hasher.update(f"{',' if index else ''}{_encoder.encode(key)}:".encode())
        hasher.update(parts[key].encode("utf-8"))
    hasher.update(b"}")
    return hasher.hexdigest()


def digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def state_hash(view: dict[str, Any]) -> str:
    """The reference definition: hash of the canonical view without its own hash."""
    return digest(canonical({k: v for k, v in view.items() if k != "state_hash"}))
