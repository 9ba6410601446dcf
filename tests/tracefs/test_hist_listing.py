"""The ``hist`` file read as a seq_file, pure: a cursor per reader that renders
one entry at a time, survives entries coming and the histogram being cleared
between reads (no entry twice, no line torn), and holds no rendering.

The text itself is checked against the kernel's in tests/tracefs/test_hist.py;
here the listing must give the same bytes as ``HistContext.show`` when nothing
changes, and stay whole when something does.
"""

from __future__ import annotations

import errno
import gc
import os
import re
import tracemalloc

import pytest

from tpfs.kernel.errors import TpfsError
from tpfs.kernel.registry import Registry
from tpfs.tracefs.events.catalog import Catalog, CatalogEvent
from tpfs.tracefs.events.hist import (
    HistContext,
    HistCursor,
    HistHit,
    HistListing,
    Resolvers,
    SortBudget,
)
from tpfs.tracefs.trace.record import layout
from tpfs.tracefs.tree import Tree
from tpfs.tracefs.vfs.nodes import File, Opener
from tpfs.tracefs.vfs.seqfile import SeqFile

KMALLOC = (
    "name: kmalloc\nID: 374\nformat:\n"
    "\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n"
    "\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;\n"
    "\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;\n"
    "\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n\n"
    "\tfield:unsigned long call_site;\toffset:8;\tsize:8;\tsigned:0;\n"
    "\tfield:size_t bytes_req;\toffset:16;\tsize:8;\tsigned:0;\n\n"
    'print fmt: "call_site=%lx", REC->call_site\n'
)
ENTRY = re.compile(r"\{ call_site: +(\d+) \} hitcount: +\d+  bytes_req: +\d+\n")


def make_ctx() -> HistContext:
    return HistContext(lambda s, e: KMALLOC if (s, e) == ("kmem", "kmalloc") else None)


def hit(ctx: HistContext, site: int, req: int = 1) -> None:
    record = layout(KMALLOC).encode({"call_site": site, "bytes_req": req}, pid=1)
    ctx.fire("kmem", "kmalloc", HistHit(record, 0, 1, "bash", 0))


def reader(ctx: HistContext, budget: SortBudget | None = None) -> SeqFile[HistCursor, bytes]:
    listing = HistListing(lambda: ctx.triggers("kmem", "kmalloc"), Resolvers,
                          SortBudget() if budget is None else budget)
    return SeqFile(listing)


def read_all(seq: SeqFile[HistCursor, bytes], size: int, between: object = None) -> bytes:
    out, offset = [], 0
    while True:
        chunk = seq.read(offset, size)
        if not chunk:
            return b"".join(out)
        out.append(chunk)
        offset += len(chunk)
        if callable(between):
            between(offset)


def test_small_reads_give_what_show_gives() -> None:
    """Nothing changing: any read size gives ``show``'s bytes, two histograms included."""
    ctx = make_ctx()
    ctx.command("kmem", "kmalloc", "hist:keys=call_site:vals=bytes_req")
    ctx.command("kmem", "kmalloc", "hist:keys=bytes_req:sort=bytes_req.descending")
    for i in range(300):
        hit(ctx, i % 97, i)
    whole = ctx.show("kmem", "kmalloc").encode()
    assert whole.count(b"# event histogram") == 2
    for size in (1, 7, 100, 4096, 1 << 20):
        assert read_all(reader(ctx), size) == whole


def test_cursor_survives_entries_coming_and_a_clear() -> None:
    """Entries added between reads are not in the pass, those there are shown
    once each, in sort order; a clear mid-way ends the entries, then the totals."""
    ctx = make_ctx()
    ctx.command("kmem", "kmalloc", "hist:keys=call_site:vals=bytes_req:sort=call_site:size=8192")
    for site in range(0, 2000, 2):
        hit(ctx, site)
    fresh = iter(range(1, 100_000, 2))

    def more(offset: int) -> None:
        for _ in range(5):
            hit(ctx, next(fresh))  # new keys, sorting among those not yet shown
        hit(ctx, 10)  # an entry already shown changes

    text = read_all(reader(ctx), 61, more).decode()
    sites = [int(m.group(1)) for m in ENTRY.finditer(text)]
    body = text.split("#\n\n", 1)[1].split("\nTotals:")[0]
    assert len(ENTRY.findall(body)) == body.count("\n")  # every line whole
    assert sites == list(range(0, 2000, 2))  # each once, in order, none added later
    assert text.endswith("    Dropped: 0\n")

    cleared = []

    def clear_at(offset: int) -> None:
        if offset > 3000 and not cleared:
            ctx.command("kmem", "kmalloc", "hist:keys=call_site:vals=bytes_req:"
                        "sort=call_site:clear")
            for site in range(5000, 5100):
                hit(ctx, site)  # the new generation's entries
            cleared.append(offset)

    text = read_all(reader(ctx), 50, clear_at).decode()
    sites = [int(m.group(1)) for m in ENTRY.finditer(text)]
    assert cleared and 0 < len(sites) < 200
    assert sites == sorted(set(sites)) and max(sites) < 5000
    assert text.endswith("\nTotals:\n    Hits: 100\n    Entries: 100\n    Dropped: 0\n")
    # A new pass shows the new generation whole.
    assert [int(m.group(1)) for m in ENTRY.finditer(read_all(reader(ctx), 4096).decode())] == \
        list(range(5000, 5100))


def test_a_histogram_removed_mid_read_is_skipped() -> None:
    ctx = make_ctx()
    ctx.command("kmem", "kmalloc", "hist:keys=call_site")
    ctx.command("kmem", "kmalloc", "hist:keys=bytes_req")
    for i in range(50):
        hit(ctx, i, i + 1000)
    seq = reader(ctx)
    first = seq.read(0, 200)
    ctx.command("kmem", "kmalloc", "!hist:keys=bytes_req")
    rest = read_all_from(seq, len(first))
    text = (first + rest).decode()
    assert text.count("# event histogram") == 1 and text.count("Totals:") == 1
    assert "bytes_req:" not in text.split("trigger info:")[1].split("\n", 1)[1]


def read_all_from(seq: SeqFile[HistCursor, bytes], offset: int) -> bytes:
    out = []
    while chunk := seq.read(offset, 128):
        out.append(chunk)
        offset += len(chunk)
    return b"".join(out)


def test_open_handles_hold_no_rendering() -> None:
    """Eight handles each part-way through a hist of 16,384 entries (1.3 MB of
    text) hold their cursors, not the text: well under 8 x 256 KiB in all
    (the positions take 4 bytes an entry)."""
    fmt = KMALLOC
    catalog = Catalog((CatalogEvent("kmem", "kmalloc", layout(fmt).id, fmt),))
    tree = Tree(Registry(["kmem:kmalloc"], seed=1), catalog, ncpus=2)
    trigger = tree.resolve(["events", "kmem", "kmalloc", "trigger"])
    hist = tree.resolve(["events", "kmem", "kmalloc", "hist"])
    assert isinstance(trigger, File) and isinstance(hist, File)
    trigger.open(Opener(os.O_WRONLY)).write(0, b"hist:keys=call_site:vals=bytes_req:size=16384")
    ctx = tree.events.hist
    for site in range(16384):
        hit(ctx, site, site)
    text_size = len(ctx.show("kmem", "kmalloc"))
    assert text_size > 1_000_000
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        handles = [hist.open(Opener(os.O_RDONLY)) for _ in range(8)]
        heads = [h.read(0, 4096) for h in handles]
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert all(head.startswith(b"# event histogram") for head in heads)
    assert held < 8 * 256 * 1024, held


#: A map of the default size (``size=2048``): what a handle reserves for it.
DEFAULT_MAP = 2048


def test_open_handles_together_stay_within_the_budget() -> None:
    """Each handle reserves its histogram's whole map before the header shows; one
    past the budget is ENOMEM and holds nothing, and may read once another closes.
    A handle that showed a header never fails for it."""
    ctx = make_ctx()
    ctx.command("kmem", "kmalloc", "hist:keys=call_site")
    for i in range(300):
        hit(ctx, i)
    budget = SortBudget(limit=2 * DEFAULT_MAP)
    whole = ctx.show("kmem", "kmalloc").encode()
    first, second, third = (reader(ctx, budget) for _ in range(3))
    heads = [first.read(0, 100), second.read(0, 100)]
    assert budget.held() == 2 * DEFAULT_MAP
    with pytest.raises(TpfsError) as refused:
        third.read(0, 100)
    assert refused.value.errno == errno.ENOMEM and budget.held() == 2 * DEFAULT_MAP
    assert heads[0] + read_all_from(first, 100) == whole
    assert budget.held() == DEFAULT_MAP  # past its histogram: given back
    del second
    gc.collect()
    assert budget.held() == 0  # a closed handle holds nothing
    assert read_all(third, 100) == whole


def test_a_read_ends_before_a_histogram_with_no_room_and_loses_nothing() -> None:
    """The first histogram's end comes out; the second's header waits for room."""
    ctx = make_ctx()
    ctx.command("kmem", "kmalloc", "hist:keys=call_site:size=1024")
    ctx.command("kmem", "kmalloc", "hist:keys=bytes_req")
    for i in range(20):
        hit(ctx, i, i)
    whole = ctx.show("kmem", "kmalloc").encode()
    budget = SortBudget(limit=1024 + DEFAULT_MAP - 1)
    seq = reader(ctx, budget)
    head = seq.read(0, 40)
    other = reader(ctx, budget)
    other.read(0, 40)  # 1024 each: no room for the second histogram's 2048 now
    rest = seq.read(len(head), 1 << 20)  # to the end of the first histogram only
    assert (head + rest).count(b"Totals:") == 1 and whole.startswith(head + rest)
    with pytest.raises(TpfsError) as refused:
        seq.read(len(head + rest), 1 << 20)
    assert refused.value.errno == errno.ENOMEM
    del other
    gc.collect()
    assert head + rest + read_all_from(seq, len(head + rest)) == whole
