"""A tiny run of the benchmark, so that it keeps working (no thresholds here)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from conftest import ROOT


def test_bench_quick_run(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    res = subprocess.run([sys.executable, str(ROOT / "bench/run.py"), "--quick",
                          "--repeat", "1", "--out", str(out)],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    results = json.loads(out.read_text())
    assert set(results) >= {"machine", "listing", "churn", "scaling", "registration",
                            "dataplane", "ratios"}
    for key in ("tpfs/floor cat", "tpfs/floor dd bs=64", "churn/quiet",
                "read per instance 100k/1k", "registration 100k/1k",
                "fire @count (identical) ev/s", "fire distinct lines ev/s",
                "filter match/none (time)", "filter reject/none (time)",
                "trace_pipe python (distinct) ev/s", "trace_pipe cat (distinct) ev/s",
                "bytes per buffered event"):
        assert results["ratios"][key] > 0, key
    rows = results["dataplane"]
    assert all(row["overrun"] == 0 for row in rows.values() if isinstance(row, dict)
               and "overrun" in row)
    assert ("kernel baseline" in rows) != any("kernel ev/s" in row for row in rows.values()
                                              if isinstance(row, dict))
    assert any(key.startswith("trace-cmd record") for key in rows)
    assert "== ratios and targets" in res.stdout
    leftovers = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()
                 if "tpfs-bench-" in line.split()[1]]
    assert not leftovers
