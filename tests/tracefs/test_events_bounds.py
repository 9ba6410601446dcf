"""What writers can make the event layer remember is bounded: filters and
triggers past their caps are ENOSPC and change nothing (no mount)."""

from __future__ import annotations

import errno

import pytest

from tpfs.kernel.errors import TpfsError
from tpfs.kernel.registry import Registry
from tpfs.tracefs.events import events
from tpfs.tracefs.events.catalog import Catalog
from tpfs.tracefs.events.events import EventLayer
from tpfs.tracefs.trace.settings import Tracing
from tpfs.tracefs.trace.trace import TraceArray

NAMES = ["s:a", "s:b", "s:c", "t:d"]


@pytest.fixture
def layer(monkeypatch: pytest.MonkeyPatch) -> EventLayer:
    monkeypatch.setattr(events, "MAX_FILTERS", 2)
    monkeypatch.setattr(events, "MAX_TRIGGERS", 2)
    return EventLayer(Registry(NAMES), Catalog(()), TraceArray(Tracing(ncpus=2)), ncpus=2)


def enospc(fn, *args) -> None:
    with pytest.raises(TpfsError) as exc:
        fn(*args)
    assert exc.value.errno == errno.ENOSPC


def test_filters_past_the_cap_are_enospc(layer: EventLayer) -> None:
    layer.set_filter("s:a", b"common_pid == 1")
    layer.set_filter("s:b", b"common_pid == 2")
    layer.set_filter("s:a", b"common_pid == 3")  # replacing one takes no room
    enospc(layer.set_filter, "s:c", b"common_pid == 4")
    assert layer.filter_text("s:c") == "none\n"
    enospc(layer.set_subsystem_filter, "s", b"common_pid == 5")  # all three or none
    assert [layer.filter_text(n) for n in NAMES[:3]] == [
        "common_pid == 3\n", "common_pid == 2\n", "none\n"]
    layer.set_filter("s:b", b"0")
    layer.set_filter("s:c", b"common_pid == 4")


def test_triggers_past_the_cap_are_enospc(layer: EventLayer) -> None:
    layer.set_trigger("s:a", b"traceoff")
    layer.set_trigger("s:b", b"stacktrace")
    enospc(layer.set_trigger, "s:c", b"traceon")
    assert layer.trigger_text("s:c").startswith("#")
    layer.set_trigger("s:a", b"!traceoff")
    layer.set_trigger("s:c", b"traceon")


def test_triggers_of_a_module_that_went_give_their_room_back(layer: EventLayer) -> None:
    layer.registry.module_coming("m", ["m:x", "m:y"])
    layer.set_trigger("m:x", b"traceoff")
    layer.set_trigger("m:y", b"traceon")
    enospc(layer.set_trigger, "s:a", b"traceon")
    layer.registry.module_going("m")
    layer.set_trigger("s:a", b"traceon")
    layer.set_trigger("s:b", b"traceon")
