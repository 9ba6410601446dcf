"""The workload tool's lines without a mount: against the catalogue's formats and a
directory laid out like a tracefs, every value fits its field, the same seed gives
the same bytes, tasks are consistent, and gone events leave no trace behind."""

from __future__ import annotations

import argparse
import errno
import os
import random
import re
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from tpfs.tools.workload import (
    COMMS,
    Generator,
    Workload,
    main,
    plan_event,
    run,
    task_pool,
)
from tpfs.tracefs.events import catalog
from tpfs.tracefs.trace.record import Value, layout

HEADER = (
    "name: {name}\nID: 900\nformat:\n"
    "\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n"
    "\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;\n"
    "\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;\n"
    "\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n\n"
)
#: Fields too small for the values a task would give, and fields fire cannot set.
CRAMPED = HEADER.format(name="cramped") + (
    "\tfield:unsigned char pid;\toffset:8;\tsize:1;\tsigned:0;\n"
    "\tfield:signed char prio;\toffset:9;\tsize:1;\tsigned:1;\n"
    "\tfield:char comm[4];\toffset:10;\tsize:4;\tsigned:0;\n"
    "\tfield:bool flag;\toffset:14;\tsize:1;\tsigned:0;\n"
    "\tfield:char one[1];\toffset:15;\tsize:1;\tsigned:0;\n"
    "\tfield:short delta;\toffset:16;\tsize:2;\tsigned:1;\n"
    "\tfield:u8 addr[4];\toffset:18;\tsize:4;\tsigned:0;\n"
    "\tfield:__data_loc u8[] blob;\toffset:24;\tsize:4;\tsigned:0;\n"
    "\tfield:__data_loc char[] name;\toffset:28;\tsize:4;\tsigned:0;\n\n"
    'print fmt: "%d", REC->pid\n'
)
CATALOG = catalog.load_embedded()
FORMATS = {e.name: e.format for e in CATALOG.events}
NCPUS = 4


def parse(line: str) -> tuple[str, dict[str, str], dict[str, str]]:
    """A fire line as the fire file splits it: name, @ words, field words."""
    name, *words = line.split(" ")
    pairs = [w.split("=", 1) for w in words]
    return (name, {k: v for k, v in pairs if k.startswith("@")},
            {k: v for k, v in pairs if not k.startswith("@")})


def encodes(fmt: str, fields: dict[str, str]) -> bytes:
    """The record the fire file would build for ``fields`` (ValueError if it refuses)."""
    event = layout(fmt)
    values: dict[str, Value] = {}
    for key, word in fields.items():
        f = event.by_name[key]
        if f.kind != "scalar" and f.is_text:
            values[key] = word
        else:
            assert re.fullmatch(r"-?[0-9]+", word), (key, word)
            assert -(1 << 63) <= int(word) < 1 << 64
            values[key] = int(word)
    return event.encode(values)


def generator(seed: int = 1, burst: int = 1) -> Generator:
    rng = random.Random(seed)
    return Generator(rng, task_pool(rng, 16, NCPUS), NCPUS, burst)


def test_every_catalogue_event_gets_values_its_format_takes() -> None:
    gen = generator()
    for name, fmt in FORMATS.items():
        plan = plan_event(name, fmt)
        for _ in range(4):
            line, count = gen.line(plan)
            assert count == 1
            got, at, fields = parse(line)
            assert got == name and set(at) == {"@cpu", "@pid", "@comm"}
            assert 0 <= int(at["@cpu"]) < NCPUS and 0 < len(at["@comm"]) <= 15
            encodes(fmt, fields)


def test_values_are_clamped_to_small_fields_and_unsettable_fields_are_left_out() -> None:
    gen = generator(burst=3)
    plan = plan_event("t:cramped", CRAMPED)
    assert [f.name for f in plan.fields] == ["pid", "prio", "comm", "flag", "delta", "name"]
    seen: dict[str, set[str]] = {}
    for _ in range(500):
        line, count = gen.line(plan)
        assert 1 <= count <= 5
        _, _, fields = parse(line)
        encodes(CRAMPED, fields)
        for k, v in fields.items():
            seen.setdefault(k, set()).add(v)
    assert seen["flag"] == {"0", "1"}
    assert all(len(v) <= 3 for v in seen["comm"])
    assert all(0 <= int(v) <= 255 for v in seen["pid"])
    assert min(int(v) for v in seen["delta"]) < -10000 < 10000 < max(int(v) for v in seen["delta"])


def test_tasks_are_consistent_within_a_line() -> None:
    gen = generator(seed=3)
    pool = {t.pid: t for t in gen.tasks}
    plan = plan_event("sched:sched_switch", FORMATS["sched:sched_switch"])
    nexts = set()
    for _ in range(300):
        _, at, f = parse(gen.line(plan)[0])
        current = pool[int(at["@pid"])]
        assert at["@comm"] == current.comm == f["prev_comm"]
        assert int(f["prev_pid"]) == current.pid and int(f["prev_prio"]) == current.prio
        nxt = pool[int(f["next_pid"])]
        assert f["next_comm"] == nxt.comm and int(f["next_prio"]) == nxt.prio
        nexts.add(nxt.pid)
    assert len(nexts) > 8
    assert all(t.comm in COMMS and 0 <= t.prio <= 139 for t in gen.tasks)
    assert sum(t.prio == 120 for t in gen.tasks) > len(gen.tasks) // 2


def fake_tracefs(root: Path, names: Sequence[str], ncpus: int = NCPUS) -> Path:
    """A directory with what the tool reads: available_events, formats, per_cpu/."""
    for name in names:
        subsys, _, event = name.partition(":")
        (root / "events" / subsys / event).mkdir(parents=True, exist_ok=True)
        (root / "events" / subsys / event / "format").write_text(FORMATS[name])
    for cpu in range(ncpus):
        (root / "per_cpu" / f"cpu{cpu}").mkdir(parents=True, exist_ok=True)
    (root / "available_events").write_text("".join(f"{n}\n" for n in names))
    return root


def summary(err: str) -> dict[str, int]:
    m = re.search(r"workload done: (.*)", err)
    assert m, err
    return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)\b(?!\.)", m[1])}


def printed(capsys: pytest.CaptureFixture[str], root: Path, *args: str) -> str:
    assert main([str(root), "--print", *args]) == 0
    out, err = capsys.readouterr()
    assert summary(err)["skipped"] == summary(err)["errors"] == 0
    return out


def test_the_same_seed_prints_the_same_bytes(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    root = fake_tracefs(tmp_path, [e.name for e in CATALOG.events[:150]])
    first = printed(capsys, root, "--seed", "5", "--count", "3000")
    assert first == printed(capsys, root, "--seed", "5", "--count", "3000")
    assert first != printed(capsys, root, "--seed", "6", "--count", "3000")
    counts = [int(m[1]) if (m := re.search(r" @count=(\d+)$", line)) else 1
              for line in first.splitlines()]
    assert sum(counts) == 3000 and max(counts) > 1  # the default burst repeats lines
    assert {int(w[5:]) for line in first.splitlines() for w in line.split()
            if w.startswith("@cpu=")} == set(range(NCPUS))
    assert len({line.split()[0] for line in first.splitlines()}) > 100


def test_globs_pick_events(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = fake_tracefs(tmp_path, list(FORMATS))
    out = printed(capsys, root, "--count", "2000", "--burst", "1",
                  "--events", "sched:sched_s*,irq:*", "--events", "timer:hrtimer_start")
    names = {line.split()[0] for line in out.splitlines()}
    assert "sched:sched_switch" in names and "timer:hrtimer_start" in names
    assert "irq:irq_handler_entry" in names
    assert all(n.startswith(("sched:sched_s", "irq:")) or n == "timer:hrtimer_start"
               for n in names)
    assert main([str(root), "--print", "--events", "nosuch:*"]) == 2


def test_events_that_go_are_forgotten(tmp_path: Path) -> None:
    names = [e.name for e in CATALOG.events[:40]]
    root = fake_tracefs(tmp_path, names)
    work = Workload(root, generator())
    work.refresh()
    work.batch(500)
    assert set(work.plans) == set(names)
    (root / "available_events").write_text("".join(f"{n}\n" for n in names[:10]))
    work.refresh()
    assert set(work.plans) <= set(names[:10]) and work.names == names[:10]
    (root / "events" / names[0].replace(":", "/") / "format").unlink()
    work.forget_formats()
    work.batch(500)  # the format that is gone drops its name until the next refresh
    assert names[0] not in work.names and names[0] not in work.plans
    assert len(work.names) == 9


def faulty_sink(errors: dict[int, int], on_error: Callable[[], None] = lambda: None,
                ) -> tuple[list[bytes], Callable[[bytes], None]]:
    """A sink that answers its Nth write with ``errors[N]`` (after calling
    ``on_error``) and keeps the writes it takes."""
    kept: list[bytes] = []
    calls = 0

    def sink(data: bytes) -> None:
        nonlocal calls
        calls += 1
        if calls in errors:
            on_error()
            raise OSError(errors[calls], os.strerror(errors[calls]))
        kept.append(data)

    return kept, sink


def run_into(root: Path, sink: Callable[[bytes], None]) -> int:
    args = argparse.Namespace(mountpoint=root, seed=1, tasks=8, burst=1, events=None,
                              rate=4000, duration=0, count=2000)  # 200 firings a batch
    return run(args, sink)


@pytest.mark.parametrize(("errors", "status", "counts"), [
    ({2: errno.ENOENT, 3: errno.ENOENT}, 0, "firings=2000 batches=10 skipped=2 dropped=400 "
                                            "errors=0"),
    ({1: errno.EINVAL, 3: errno.EINVAL}, 1, "firings=2000 batches=10 skipped=0 dropped=0 "
                                            "errors=2"),
    ({n: errno.EINVAL for n in range(2, 99)}, 1, "firings=200 batches=1 skipped=0 dropped=0 "
                                                 "errors=2"),
], ids=["listed", "refused-once", "refused-twice"])
def test_batches_refused_for_no_reason_the_list_shows(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], errors: dict[int, int],
        status: int, counts: str) -> None:
    root = fake_tracefs(tmp_path, [e.name for e in CATALOG.events[:20]])
    kept, sink = faulty_sink(errors)
    assert run_into(root, sink) == status
    assert counts in capsys.readouterr().err
    assert sum(len(b.splitlines()) for b in kept) == int(counts.split()[0][8:])


def test_a_batch_naming_a_gone_event_goes_again_without_it(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    names = [e.name for e in CATALOG.events[:20]]
    root = fake_tracefs(tmp_path, names)

    def unload() -> None:
        (root / "available_events").write_text("".join(f"{n}\n" for n in names[10:]))

    kept, sink = faulty_sink({2: errno.ENOENT}, unload)
    assert run_into(root, sink) == 0
    counts = summary(capsys.readouterr().err)
    assert counts["firings"] == 2000 and counts["skipped"] == 1 and counts["errors"] == 0
    assert 0 < counts["dropped"] < 200
    assert len(kept[1].splitlines()) == 200 - counts["dropped"]  # the same batch, less
    assert {line.split()[0] for b in kept[1:] for line in b.decode().splitlines()} \
        <= set(names[10:])
