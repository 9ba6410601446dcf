"""The registry's index of instances by name: what stands for a name's definition,
and what one module tracepoint costs the registry and the event index."""

from __future__ import annotations

import gc
import tracemalloc

from tpfs.kernel.registry import Limits, Registry
from tpfs.tracefs.events.index import EventIndex
from tpfs.tracefs.tracepoints.control import parse_load, split_lines


def test_a_definition_stays_while_any_instance_defines_the_name() -> None:
    reg = Registry(["sched:sched_switch"])
    assert reg.definition("m:x") is None
    reg.module_coming("a", ["m:x"])
    first = reg.definition("m:x")
    assert first is not None
    reg.module_coming("b", ["m:x"])
    reg.module_going("a")
    reg.module_coming("c", ["m:x"])
    reg.module_going("b")
    assert reg.definition("m:x") is first
    assert [tp.owner for tp in reg.instances("m:x")] == ["c"]
    reg.module_going("c")
    assert reg.definition("m:x") is None and list(reg.instances("m:x")) == []
    reg.module_coming("a", ["m:x"])
    assert reg.definition("m:x") is not first  # a new definition
    assert reg.definition("sched:sched_switch") is reg.definition("sched:sched_switch")


#: Traced bytes per module tracepoint, parsed and held by the registry and the
#: event index (Python 3.11: 233 measured; 372 when each name held a list and each
#: event its own readdir-key int). Allocation sizes are deterministic, so this is
#: not a timing: it fails when a per-tracepoint object comes back.
BYTES_PER_TRACEPOINT = 248


def test_a_module_tracepoint_costs_the_model_a_bounded_number_of_bytes() -> None:
    modules, per = 250, 20
    text = "".join(f"bm{i} " + " ".join(f"bm{i}:tp{j}" for j in range(per)) + "\n"
                   for i in range(modules)).encode()
    reg = Registry(["sched:sched_switch"], limits=Limits(max_modules=modules))
    index = EventIndex(reg)
    reg.module_coming_hooks.append(index.module_coming)
    gc.collect()
    tracing = tracemalloc.is_tracing()
    if not tracing:
        tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        reg.load_modules([parse_load(words, lambda name: None) for words in split_lines(text)])
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        if not tracing:
            tracemalloc.stop()
    assert len(index.all_names()) == modules * per + 1
    assert grown / (modules * per) <= BYTES_PER_TRACEPOINT
