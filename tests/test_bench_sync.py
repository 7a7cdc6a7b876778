"""scripts/bench's sync figures: the JSON shape of a tiny run (never its timings)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "scripts" / "bench"
NAMES = ("sync_initial", "sync_insync_bytes_10", "sync_insync_bytes_1000")


def _positive(value: object) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value > 0
    )


def test_sync_figures_at_tiny_sizes_have_the_contract_shape() -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH), "--json", "-q", "--entries", "2000", *NAMES],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)  # exactly one JSON object, nothing else
    assert set(out) == set(NAMES)

    initial = out["sync_initial"]
    assert initial["unit"] == "entries/s"
    assert _positive(initial["value"]) and _positive(initial["ratio"])
    assert _positive(initial["ref_value"])
    assert initial["ratio_to"] == "raw_verify"
    assert initial["feeds"] == 100

    for name in NAMES[1:]:
        figure = out[name]
        assert figure["unit"] == "bytes"
        assert isinstance(figure["value"], int) and figure["value"] > 0
        assert figure["value"] == figure["client_to_server"] + figure["server_to_client"]
        assert figure["client_to_server"] > 0 and figure["server_to_client"] > 0
        assert "ratio" not in figure
