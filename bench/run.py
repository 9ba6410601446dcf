"""Benchmarks of tpfs against baselines measured in the same run.

    python bench/run.py [--quick] [--repeat N] [--out FILE]

1. listing reads (cat, dd bs=4096, dd bs=64) of tpfs against a static-buffer
   pyfuse3 file (the floor), the kernel's own tracefs (as root) and tmpfs;
2. the same reads while another process loads and unloads modules;
3. scaling with the registry's size: full-read cost per instance, the cost of
   one small read at the head and the tail of the listing, and peak RSS;
4. registration (probe register+unregister, module load+unload) in the model,
   against the kernel's walk over every instance, and through the mount.

Prints a table, checks the targets, and writes everything as JSON.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

from tpfs.kernel.registry import Limits, Registry
from tpfs.tools.mounting import Mount, fuse_unmount, start, start_tpfs
from tpfs.tracefs import catalog

HERE = Path(__file__).resolve().parent
T = TypeVar("T")
METHODS = {"cat": ["cat"], "dd bs=4096": ["dd", "bs=4096"], "dd bs=64": ["dd", "bs=64"]}
TARGETS = {
    "tpfs/floor cat": 1.25, "tpfs/floor dd bs=4096": 1.25, "tpfs/floor dd bs=64": 1.5,
    "churn/quiet": 1.2, "read per instance 100k/1k": 1.3, "registration 100k/1k": 1.5,
    "peak RSS at 100k (MiB)": 80,
}


def read_cmd(method: str, path: Path) -> list[str]:
    argv = METHODS[method]
    if argv[0] == "cat":
        return ["cat", str(path)]
    return [*argv[:1], f"if={path}", "of=/dev/null", *argv[1:], "status=none"]


def median_ms(cmds: dict[str, list[str]], repeat: int) -> dict[str, float]:
    """Median wall time of each whole command, in milliseconds.

    The commands take turns in a shuffled order each round, so that drift in
    the machine's load falls on all of them alike.
    """
    times: dict[str, list[float]] = {who: [] for who in cmds}
    order = list(cmds)
    rng = random.Random(0)
    for _ in range(repeat):
        rng.shuffle(order)
        for who in order:
            t = time.perf_counter()
            subprocess.run(cmds[who], check=True, stdout=subprocess.DEVNULL)
            times[who].append(time.perf_counter() - t)
    return {who: statistics.median(ts) * 1e3 for who, ts in times.items()}


def machine() -> dict[str, object]:
    cpu = ""
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as info:
        cpu = next((ln.split(":", 1)[1].strip() for ln in info
                    if ln.startswith("model name")), "")
    return {"cpus": os.cpu_count(), "cpu": cpu, "kernel": platform.release(),
            "python": platform.python_version()}


class Bench:
    def __init__(self, workdir: Path, quick: bool, repeat: int) -> None:
        self.work = workdir
        self.quick = quick
        self.repeat = repeat
        self.results: dict[str, object] = {"machine": machine(), "quick": quick}
        self.ratios: dict[str, float] = {}
        self._n = 0

    # -- helpers -----------------------------------------------------------
    def _name(self, what: str) -> Path:
        self._n += 1
        return self.work / f"{what}{self._n}"

    @contextlib.contextmanager
    def tpfs(self, *args: str) -> Iterator[Mount]:
        mnt = self._name("tpfs")
        mount = start_tpfs(mnt, mnt.with_suffix(".log"), "--max-modules", "100000", *args,
                           wait=60)
        try:
            yield mount
        finally:
            mount.stop()

    @contextlib.contextmanager
    def floor(self, data: bytes) -> Iterator[Mount]:
        mnt = self._name("floor")
        src = mnt.with_suffix(".data")
        src.write_bytes(data)
        mount = start([sys.executable, str(HERE / "floorfs.py"), str(mnt), str(src)], mnt,
                      mnt.with_suffix(".log"))
        try:
            yield mount
        finally:
            mount.stop()

    @contextlib.contextmanager
    def kernel(self) -> Iterator[Path | None]:
        mnt = self._name("kernel")
        mnt.mkdir()
        if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tracefs", "nodev", str(mnt)],
                                               capture_output=True).returncode:
            yield None
            return
        try:
            yield mnt
        finally:
            subprocess.run(["umount", str(mnt)], check=False)

    @staticmethod
    def load_modules(mount: Mount, modules: int, per: int, prefix: str = "bm") -> None:
        lines = [f"{prefix}{i} " + " ".join(f"{prefix}{i}:tp{j}" for j in range(per)) + "\n"
                 for i in range(modules)]
        batch: list[str] = []
        size = 0
        for line in lines:
            if size + len(line) > 60_000:
                mount.write("modules/load", "".join(batch))
                batch, size = [], 0
            batch.append(line)
            size += len(line)
        if batch:
            mount.write("modules/load", "".join(batch))

    # -- 1. listing reads --------------------------------------------------
    def listing(self) -> None:
        modules = 20 if self.quick else 200
        table: dict[str, dict[str, float]] = {}
        for config, nmod in (("core", 0), (f"core+{modules}x10", modules)):
            with self.tpfs("--seed", "1") as mount:
                self.load_modules(mount, nmod, 10)
                data = (mount / "available_events").read_bytes()
                shm = Path("/dev/shm") if os.access("/dev/shm", os.W_OK) else self.work
                tmpfs = Path(tempfile.mkstemp(dir=shm, prefix="tpfs-bench-")[1])
                tmpfs.write_bytes(data)
                with self.floor(data) as floor, self.kernel() as kernel:
                    paths = {"tpfs": mount / "available_events",
                             "floor": floor / "available_events", "tmpfs": tmpfs}
                    if (kernel is not None and nmod == 0
                            and (kernel / "available_events").read_bytes() == data):
                        paths["kernel"] = kernel / "available_events"
                    for method in METHODS:
                        row = median_ms({who: read_cmd(method, p) for who, p in paths.items()},
                                        self.repeat)
                        table[f"{config} {method} (ms)"] = row
                        if nmod:
                            self.ratios[f"tpfs/floor {method}"] = row["tpfs"] / row["floor"]
                        elif "kernel" in row:
                            self.ratios[f"tpfs/kernel {method}"] = row["tpfs"] / row["kernel"]
                tmpfs.unlink()
        self.results["listing"] = table

    # -- 2. churn ----------------------------------------------------------
    def churn(self) -> None:
        modules = 20 if self.quick else 200
        out: dict[str, float] = {}
        with self.tpfs("--seed", "1") as mount:
            self.load_modules(mount, modules, 10)
            for label, rate in (("quiet", 0.001), ("churn", 100.0)):
                log = self._name("churn").with_suffix(".jsonl")
                proc = subprocess.Popen(
                    [sys.executable, "-m", "tpfs.churn", str(mount.path), "--seed", "2",
                     "--rate", str(rate), "--duration", "0", "--initial", "40",
                     "--prefix", f"{label}_", "--log", str(log)],
                    stderr=subprocess.PIPE, text=True)
                assert proc.stderr is not None
                proc.stderr.readline()
                try:
                    timed = median_ms({m: read_cmd(m, mount / "available_events")
                                       for m in METHODS}, self.repeat)
                    out.update({f"{label} {m} ms": ms for m, ms in timed.items()})
                finally:
                    proc.terminate()
                    proc.communicate(timeout=30)
                churned = [n for n in os.listdir(mount / "modules") if n.startswith(label)]
                mount.write("modules/unload", "".join(f"{n}\n" for n in churned) or "\n")
        for method in METHODS:
            out[f"ratio {method}"] = out[f"churn {method} ms"] / out[f"quiet {method} ms"]
        self.ratios["churn/quiet"] = max(out[f"ratio {m}"] for m in METHODS)
        self.results["churn"] = out

    # -- 3. scaling --------------------------------------------------------
    def scaling(self) -> None:
        sizes = [1_000, 2_000] if self.quick else [1_000, 10_000, 100_000]
        per = 20
        cat_file = self._name("catalog").with_suffix(".json.gz")
        full = catalog.load_embedded()
        catalog.dump(catalog.Catalog(full.events[:200]), cat_file)
        out: dict[str, dict[str, float]] = {}
        for size in sizes:
            with self.tpfs("--seed", "1", "--catalog", str(cat_file)) as mount:
                self.load_modules(mount, (size - 200) // per, per)
                path = mount / "available_events"
                n = len(path.read_bytes().splitlines())
                full_read = statistics.median(timed_reads(path, 4096)
                                              for _ in range(self.repeat))
                head, tail = small_read_costs(path, 64, 50 if self.quick else 500)
                rss = peak_rss_mib(mount.proc.pid)
                out[str(size)] = {"instances": n, "full read ms": full_read * 1e3,
                                  "per instance us": full_read / n * 1e6,
                                  "64B read at head us": head * 1e6,
                                  "64B read at tail us": tail * 1e6, "peak RSS MiB": rss}
        first, last = out[str(sizes[0])], out[str(sizes[-1])]
        self.ratios["read per instance 100k/1k"] = (last["per instance us"]
                                                    / first["per instance us"])
        self.ratios["small read tail/head at largest"] = (last["64B read at tail us"]
                                                          / last["64B read at head us"])
        self.ratios["small read largest/smallest"] = (last["64B read at tail us"]
                                                      / first["64B read at tail us"])
        self.ratios["peak RSS at 100k (MiB)"] = last["peak RSS MiB"]
        self.results["scaling"] = out

    # -- 4. registration ---------------------------------------------------
    def registration(self) -> None:
        sizes = [1_000, 2_000] if self.quick else [1_000, 100_000]
        ops = 200 if self.quick else 2_000
        out: dict[str, dict[str, float]] = {}
        for size in sizes:
            reg = model_registry(size)
            row = {
                "register+unregister us": per_op(ops, probe_pair, reg),
                "kernel walk register+unregister us": per_op(max(ops // 20, 10),
                                                             walked_probe_pair, reg),
                "load+unload us": per_op(ops, module_pair, reg),
            }
            with self.tpfs("--seed", "1") as mount:
                self.load_modules(mount, max(size - 2305, 0) // 20, 20)
                row["mount register+unregister us"] = per_op(ops // 4, mount_probe_pair, mount)
                row["mount load+unload us"] = per_op(ops // 4, mount_module_pair, mount)
            out[str(size)] = row
        first, last = out[str(sizes[0])], out[str(sizes[-1])]
        self.ratios["registration 100k/1k"] = max(
            last["register+unregister us"] / first["register+unregister us"],
            last["load+unload us"] / first["load+unload us"])
        self.ratios["kernel walk 100k/1k"] = (last["kernel walk register+unregister us"]
                                              / first["kernel walk register+unregister us"])
        self.results["registration"] = out

    def report(self) -> str:
        lines = [f"machine: {json.dumps(self.results['machine'])}", ""]
        for section in ("listing", "churn", "scaling", "registration"):
            data = self.results.get(section)
            if not data:
                continue
            lines.append(f"== {section}")
            for key, value in data.items():  # type: ignore[union-attr]
                if isinstance(value, dict):
                    cells = "  ".join(f"{k}={fmt(v)}" for k, v in value.items())
                    lines.append(f"  {key:28} {cells}")
                else:
                    lines.append(f"  {key:28} {fmt(value)}")
        lines.append("== ratios and targets")
        for key, value in self.ratios.items():
            target = TARGETS.get(key)
            verdict = "" if target is None else (" ok" if value <= target else " MISSED") + (
                f" (target <= {target})")
            lines.append(f"  {key:36} {value:8.3f}{verdict}")
        self.results["ratios"] = self.ratios
        return "\n".join(lines)


def fmt(value: float) -> str:
    return str(value) if isinstance(value, int) else f"{value:.4g}"


def timed_reads(path: Path, size: int) -> float:
    fd = os.open(path, os.O_RDONLY)
    try:
        t = time.perf_counter()
        while os.read(fd, size):
            pass
        return time.perf_counter() - t
    finally:
        os.close(fd)


def small_read_costs(path: Path, size: int, count: int) -> tuple[float, float]:
    """Median time of one ``size``-byte read among ``count`` at the head and at the tail."""
    total = len(path.read_bytes())

    def timed(fd: int) -> float:
        times = []
        for _ in range(count):
            t = time.perf_counter()
            os.read(fd, size)
            times.append(time.perf_counter() - t)
        return statistics.median(times)

    fd = os.open(path, os.O_RDONLY)
    try:
        head = timed(fd)
        pos = count * size
        while pos < total - 2 * count * size:  # move on without replaying (no lseek)
            pos += len(os.read(fd, min(65536, total - 2 * count * size - pos)))
        return head, timed(fd)
    finally:
        os.close(fd)


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def per_op(count: int, op: Callable[[T, int], None], target: T, rounds: int = 5) -> float:
    """Microseconds per ``op(target, i)``: the median over rounds of ``count`` calls,
    so that one garbage collection or scheduling hiccup does not decide it."""
    results = []
    for _ in range(rounds):
        t = time.perf_counter()
        for i in range(count):
            op(target, i)
        results.append((time.perf_counter() - t) / count * 1e6)
    return statistics.median(results)


def model_registry(size: int, per: int = 20) -> Registry:
    full = catalog.load_embedded()
    core = [e.name for e in full.events][: min(size, 2305)]
    reg = Registry(core, seed=1, limits=Limits(max_modules=100_000))
    for i in range(max(size - len(core), 0) // per):
        reg.module_coming(f"m{i}", [f"m{i}:tp{j}" for j in range(per)])
    return reg


def probe_pair(reg: Registry, i: int) -> None:
    reg.tracepoint_probe_register("sched:sched_switch", "bench", i)
    reg.tracepoint_probe_unregister("sched:sched_switch", "bench", i)


def walked_probe_pair(reg: Registry, i: int) -> None:
    """The same pair as the kernel does it: each update walks every instance."""
    reg.tracepoint_probe_register_noupdate("sched:sched_switch", "bench", i)
    reg.update_all_instances()
    reg.tracepoint_probe_unregister_noupdate("sched:sched_switch", "bench", i)
    reg.update_all_instances()
    reg.tracepoint_probe_update_all()


def module_pair(reg: Registry, i: int) -> None:
    reg.module_coming("benchmod", ["benchmod:a", "sched:sched_switch"])
    reg.module_going("benchmod")


def mount_probe_pair(mount: Mount, i: int) -> None:
    mount.write("probes/register", f"sched:sched_switch bench {i}\n")
    mount.write("probes/unregister", f"sched:sched_switch bench {i}\n")


def mount_module_pair(mount: Mount, i: int) -> None:
    mount.write("modules/load", "benchmod benchmod:a sched:sched_switch\n")
    mount.write("modules/unload", "benchmod\n")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run")
    p.add_argument("--repeat", type=int, help="repetitions per timing (default 15, quick 2)")
    p.add_argument("--out", type=Path, default=HERE / "results.json")
    p.add_argument("--only", choices=["listing", "churn", "scaling", "registration"],
                   action="append")
    args = p.parse_args(argv)
    repeat = args.repeat or (2 if args.quick else 31)
    work = Path(tempfile.mkdtemp(prefix="tpfs-bench-"))
    bench = Bench(work, args.quick, repeat)
    try:
        for section in args.only or ["listing", "churn", "scaling", "registration"]:
            getattr(bench, section)()
    finally:
        for mnt in work.iterdir():
            fuse_unmount(mnt)
        shutil.rmtree(work, ignore_errors=True)
    text = bench.report()
    print(text)
    args.out.write_text(json.dumps(bench.results, indent=2) + "\n")
    print(f"\nwritten to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
