"""The ring buffer as a state machine, compared step by step with a plain reference.

The reference keeps each CPU's events in lists: a deque of the ring's pages
that hold data (oldest first, the writer's last) and the reader's page,
with no bytes, offsets or ring indexes, only each record's size. It says
which events survive, in what order, with what time stamps, and every
counter of ``per_cpu/cpuN/stats``; pages read from the model are decoded
with libtraceevent's kbuffer and must hold what the reference reads.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule
from kbuffer import decode

from tpfs.kernel.ring_buffer import Event, RingBuffer
from tpfs.kernel.ring_buffer_run import consume_run, peek_run, walk_runs

CPUS = 2
PAGE = 4080
TS_MASK = (1 << 27) - 1
EXTEND_LIMIT = 1 << 59
T0 = 1_000_000_000
MAX_TS = (1 << 64) - 1
KB_PAGES = {1: 2, 4: 2, 8: 3, 12: 4, 16: 5, 20: 6}


def record(size: int) -> tuple[int, int]:
    """(bytes a data record of ``size`` payload bytes takes, payload bytes it stores)."""
    rounded = -(-max(size, 1) // 4) * 4
    if size > 112:
        return rounded + 8, rounded
    if rounded == 8:
        return 16, 12
    return rounded + 4, rounded


@dataclass
class RefEvent:
    seq: int
    ts: int
    payload: bytes
    size: int
    extend: bool


@dataclass
class RefPage:
    events: list[RefEvent] = field(default_factory=list)
    used: int = 0
    end: int = 0
    pos: int = 0
    consumed: int = 0
    extend_read: bool = False


class RefCpu:
    def __init__(self, cpu: int, nr_pages: int) -> None:
        self.cpu = cpu
        self.nr_pages = nr_pages
        self.seq = 0
        self.reset()

    def reset(self) -> None:
        self.ring: deque[RefPage] = deque([RefPage()])
        self.reader = RefPage()
        self.on_reader = False
        self.written = self.overrun = self.dropped = self.read = 0
        self.bytes_in = self.bytes_out = 0
        self.lost = self.last_overrun = 0
        self.last_ts = 0

    def in_buffer(self) -> int:
        return self.written - self.overrun - self.read

    def close(self, page: RefPage) -> None:
        if page.used == PAGE:
            page.end = 0
            return
        page.end = page.used
        if PAGE - page.used >= 8:
            self.bytes_in += PAGE - page.used
            page.used = PAGE

    def drop_oldest(self) -> None:
        gone = self.ring.popleft()
        self.overrun += len(gone.events)
        self.bytes_in -= gone.used

    def write(self, ts: int, payload: bytes, overwrite: bool) -> bool:
        size, keep = record(len(payload))
        ts = max(ts, self.last_ts)
        while True:
            page = self.reader if self.on_reader else self.ring[-1]
            delta = ts - self.last_ts if page.used else 0
            extend = delta > TS_MASK
            if page.used + size + 8 * extend <= PAGE and delta < EXTEND_LIMIT:
                break
            if self.on_reader:
                self.on_reader = False
            elif len(self.ring) == self.nr_pages:
                if not overwrite:
                    self.dropped += 1
                    self.close(page)
                    return False
                self.drop_oldest()
            self.ring.append(RefPage())
            self.close(page)
        stored = payload + bytes(keep - len(payload))
        page.events.append(RefEvent(self.seq, ts, stored, size, extend))
        page.used += size + 8 * extend
        self.bytes_in += size + 8 * extend
        self.seq += 1
        self.written += 1
        self.last_ts = ts
        return True

    def reader_page(self) -> RefPage | None:
        page = self.reader
        while page.consumed >= page.used:
            if self.on_reader or not self.in_buffer():
                return None
            page = self.reader = self.ring.popleft()
            if not self.ring:
                self.on_reader = True
            if self.overrun != self.last_overrun:
                self.lost = self.overrun - self.last_overrun
                self.last_overrun = self.overrun
        return page

    def next(self, consume: bool) -> Event | None:
        while True:
            page = self.reader_page()
            if page is None:
                return None
            if page.pos < len(page.events):
                ev = page.events[page.pos]
                if ev.extend and not page.extend_read:  # even a peek steps over it
                    page.extend_read = True
                    page.consumed += 8
                    self.bytes_out += 8
                out = Event(self.cpu, ev.seq, ev.ts, ev.payload, self.lost)
                if consume:
                    self.lost = 0
                    page.pos += 1
                    page.extend_read = False
                    page.consumed += ev.size
                    self.bytes_out += ev.size
                    self.read += 1
                return out
            self.bytes_out += page.used - page.consumed  # the padding
            page.consumed = page.used

    def read_page(self) -> tuple[list[RefEvent], int, int] | None:
        page = self.reader_page()
        if page is None:
            return None
        missed = self.lost
        if page.consumed or self.on_reader:
            events = page.events[page.pos:]
            commit = page.used - page.consumed
            self.bytes_out += commit
            page.pos, page.consumed, page.extend_read = len(page.events), page.used, False
        else:
            events, commit = page.events, page.end or page.used
            self.bytes_out += page.used
            self.reader = RefPage()
        self.read += len(events)
        self.lost = 0
        return events, commit, missed

    def resize(self, nr_pages: int) -> None:
        free = self.nr_pages - len(self.ring)
        for _ in range(self.nr_pages - nr_pages - free):
            self.drop_oldest()
        self.nr_pages = nr_pages

    def unconsumed(self) -> list[RefEvent]:
        return self.reader.events[self.reader.pos:] + [e for p in self.ring for e in p.events]

    def oldest_ts(self) -> int | None:
        page = self.reader if self.on_reader else self.ring[0]
        return page.events[0].ts if page.events else None


GAPS = st.one_of(st.integers(0, 200), st.sampled_from(
    [TS_MASK, TS_MASK + 1, 1 << 32, EXTEND_LIMIT - 1, EXTEND_LIMIT, 1 << 60]))
SIZES = st.one_of(st.integers(0, 20), st.integers(100, 130), st.integers(400, 1500),
                  st.just(4072))
SOME_CPU = st.none() | st.integers(0, CPUS - 1)


class RingBufferMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.rb = RingBuffer(CPUS, size_kb=1)
        self.ref = [RefCpu(cpu, 2) for cpu in range(CPUS)]
        self.clock = T0
        self.count = 0

    def cpus(self, cpu: int | None) -> list[int]:
        return list(range(CPUS)) if cpu is None else [cpu]

    @rule(cpu=st.integers(0, CPUS - 1),
          writes=st.lists(st.tuples(GAPS, SIZES, st.booleans()), min_size=1, max_size=40))
    def write(self, cpu: int, writes: list[tuple[int, int, bool]]) -> None:
        for gap, size, late in writes:
            self.clock = min(self.clock + gap, MAX_TS)
            ts = self.clock - 1000 if late else self.clock
            self.count += 1
            payload = bytes([self.count % 251]) * size
            expected = self.ref[cpu].write(ts, payload, self.rb.overwrite)
            assert self.rb.write(cpu, ts, payload) == expected

    @rule(cpu=SOME_CPU, consume=st.booleans())
    def take(self, cpu: int | None, consume: bool) -> None:
        if cpu is None:
            best = None
            for ref in self.ref:
                event = ref.next(consume=False)
                if event is not None and (best is None or event.ts < best.ts):
                    best = event
            expected = best if best is None or not consume else self.ref[best.cpu].next(True)
        else:
            expected = self.ref[cpu].next(consume)
        got = self.rb.consume(cpu) if consume else self.rb.peek(cpu)
        assert got == expected

    @rule(cpu=st.integers(0, CPUS - 1), count=st.integers(1, 80))
    def take_run(self, cpu: int, count: int) -> None:
        """The reader page's rest at once, then some of it consumed: as many consumes."""
        buffer = self.rb.cpus[cpu]
        run = peek_run(buffer)
        if run is None:
            assert self.ref[cpu].next(consume=False) is None
            return
        assert self.ref[cpu].next(consume=False) is not None  # past padding, as peek_run
        page = self.ref[cpu].reader
        assert len(run.payloads) == len(page.events) - page.pos
        taken = min(count, len(run.payloads))
        expected = [self.ref[cpu].next(consume=True) for _ in range(taken)]
        assert [Event(cpu, run.first_seq + i, run.stamps[i], run.payloads[i],
                      run.lost if i == 0 else 0) for i in range(taken)] == expected
        consume_run(buffer, run, taken)

    @rule(cpu=st.integers(0, CPUS - 1), skip=st.integers(0, 6))
    def walk_pages(self, cpu: int, skip: int) -> None:
        """A walk a page at a time from any ``seq``: what the reference still has from it."""
        unconsumed = self.ref[cpu].unconsumed()
        start = (unconsumed[0].seq if unconsumed else 0) + skip
        got = [(first + i, ts, payload) for first, stamps, payloads in walk_runs(
            self.rb.cpus[cpu], start) for i, (ts, payload) in enumerate(
                zip(stamps, payloads, strict=True))]
        assert got == [(e.seq, e.ts, e.payload) for e in unconsumed if e.seq >= start]

    @rule(cpu=st.integers(0, CPUS - 1))
    def read_page(self, cpu: int) -> None:
        expected = self.ref[cpu].read_page()
        page = self.rb.read_page(cpu)
        if expected is None:
            assert page is None
            return
        events, commit, missed = expected
        got = decode(page)
        assert [(e.ts, e.data) for e in got.events] == [(e.ts, e.payload) for e in events]
        assert got.size == commit
        assert got.missed == (0 if not missed else missed if PAGE - commit >= 8 else -1)

    @rule(cpu=SOME_CPU, kb=st.sampled_from(sorted(KB_PAGES)))
    def resize(self, cpu: int | None, kb: int) -> None:
        self.rb.resize(kb, cpu)
        for c in self.cpus(cpu):
            self.ref[c].resize(KB_PAGES[kb])

    @rule(cpu=SOME_CPU, now=st.integers(0, 3))
    def reset(self, cpu: int | None, now: int) -> None:
        if now:  # a reset now and then, not one step in seven
            return
        self.rb.reset(cpu)
        for c in self.cpus(cpu):
            self.ref[c].reset()

    @rule(flag=st.booleans())
    def overwrite(self, flag: bool) -> None:
        self.rb.overwrite = flag

    @invariant()
    def same_events_and_counts(self) -> None:
        everything = []
        for ref in self.ref:
            expected = [(ref.cpu, e.seq, e.ts, e.payload) for e in ref.unconsumed()]
            got = [(e.cpu, e.seq, e.ts, e.payload) for e in self.rb.cpus[ref.cpu].events()]
            assert got == expected
            everything += expected
            stats = self.rb.stats(ref.cpu, 0)
            assert (stats.entries, stats.overrun, stats.dropped_events, stats.read_events,
                    stats.bytes, stats.commit_overrun) == (
                ref.in_buffer(), ref.overrun, ref.dropped, ref.read,
                ref.bytes_in - ref.bytes_out, 0)
            assert ref.oldest_ts() in (None, stats.oldest_event_ts)
        merged = [(e.cpu, e.seq, e.ts, e.payload) for e in self.rb.events()]
        assert merged == sorted(everything, key=lambda e: (e[2], e[0], e[1]))
        assert self.rb.empty() == (not everything)


TestRingBufferMachine = RingBufferMachine.TestCase
TestRingBufferMachine.settings = settings(max_examples=100, stateful_step_count=60,
                                          deadline=None)
