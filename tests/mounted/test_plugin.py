"""The pytest plugin installed with tpfs: a user's test file, run by pytest's ``pytester``
in a fresh session, gets a private mount through the ``tracefs`` fixture.

The test files here are what a tool author writes (docs/ci.md shows the same
kind); their results are counted, so an assertion that fails inside one fails
here. Each runs in a subprocess (``runpytest_subprocess``), where the plugin
comes from the installed entry point, not from this suite's conftest.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tpfs.tools.mounting import is_mounted
from tpfs.tools.pytest_plugin import mount_options, parse_trace

pytest_plugins = ["pytester"]

USER_TEST = '''
import pytest

def test_fire_and_read_back(tracefs):
    tracefs.enable("sched:sched_switch")
    tracefs.fire("sched:sched_switch @cpu=0 @pid=7 @comm=seven prev_comm=seven prev_pid=7 "
                 "next_comm=eight next_pid=8")
    [rec] = tracefs.records()
    assert (rec.cpu, rec.pid, rec.comm, rec.event) == (0, 7, "seven", "sched_switch")
    assert rec.fields["prev_pid"] == "7" and rec.fields["next_comm"] == "eight"
    assert rec.timestamp > 0
    assert "prev_comm=seven" in tracefs.trace()
    open("{seen}", "a").write(str(tracefs.path) + "\\n")

def test_modules(tracefs):
    tracefs.load_module("mymod", "my:ev1", "my:ev2")
    assert "my:ev1" in (tracefs.path / "available_events").read_text().split()
    tracefs.enable("my:ev1")
    tracefs.fire("my:ev1 @cpu=1")
    assert [(r.event, r.cpu) for r in tracefs.records()] == [("ev1", 1)]
    tracefs.unload_module("mymod")
    assert "my:ev1" not in (tracefs.path / "available_events").read_text().split()
    tracefs.load_module("bad", "b:ev", taint="O")
    assert (tracefs.path / "modules/bad").read_text().count("taints O")
    open("{seen}", "a").write(str(tracefs.path) + "\\n")

@pytest.mark.tpfs(cpus=3, kernel="3.1")
def test_marker_options(tracefs):
    cpus = sorted(p.name for p in (tracefs.path / "per_cpu").iterdir())
    assert cpus == ["cpu0", "cpu1", "cpu2"]
    assert tracefs.read("tracing_cpumask").strip() == "7"

def test_run_a_tool(tracefs):
    res = tracefs.run("head -n 1 /sys/kernel/tracing/available_events; "
                      "awk '$3 == \\"tracefs\\" {{ print $2; exit }}' /proc/mounts")
    assert res.returncode == 0, res.stderr
    assert res.stdout == "initcall:initcall_finish\\n/sys/kernel/tracing\\n"
'''


@pytest.fixture(autouse=True)
def fuse() -> None:
    if not os.access("/dev/fuse", os.R_OK | os.W_OK):
        pytest.skip("/dev/fuse is not usable here")


def test_a_users_tests_get_a_private_mount_each(pytester: pytest.Pytester) -> None:
    seen = pytester.path / "seen"
    pytester.makepyfile(test_user=USER_TEST.format(seen=seen))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q", timeout=300)
    result.assert_outcomes(passed=4)
    mounts = seen.read_text().split()
    assert len(mounts) == len(set(mounts)) == 2  # one mount a test, each its own
    assert not any(is_mounted(Path(m)) for m in mounts)


def test_a_failing_assertion_in_a_users_test_fails_it(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_user='''
def test_wrong(tracefs):
    tracefs.enable("sched:sched_switch")
    tracefs.fire("sched:sched_switch prev_pid=7")
    assert tracefs.records() == []
''')
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q", timeout=300)
    result.assert_outcomes(failed=1)


def test_bad_marker_options_fail_the_test_with_the_daemons_word(
        pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_user='''
import pytest

@pytest.mark.tpfs(cpus=0)
def test_never_runs(tracefs):
    pass
''')
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q", timeout=300)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*tpfs did not mount*", "*--cpus takes 1 to 64*"])


def test_mount_options_and_trace_lines() -> None:
    assert mount_options({"cpus": 4, "kernel": "3.1", "allow_other": True,
                          "debug": False}) == ["--cpus", "4", "--kernel", "3.1", "--allow-other"]
    [rec] = parse_trace("# tracer: nop\n"
                        "   my-task-12   [003] d..1.  10.500001: my_ev: a=1 b=two\n")
    assert (rec.comm, rec.pid, rec.cpu, rec.timestamp, rec.event) == ("my-task", 12, 3, 10.500001,
                                                                     "my_ev")
    assert rec.fields == {"a": "1", "b": "two"} and rec.text == "a=1 b=two"
