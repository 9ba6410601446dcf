"""The registry as a state machine, compared step by step with a plain reference."""

from __future__ import annotations

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from tpfs.kernel.errors import TpfsError
from tpfs.kernel.iterator import SortedWalk
from tpfs.kernel.registry import Registry

CORE = ["s:a", "s:b", "t:a"]
NAMES = CORE + ["m:x", "m:y", "n:z"]
MODULES = ["m1", "m2", "m3", "m4"]
PROBES = [("f", 0), ("f", 1), ("g", 0)]


class Reference:
    """tracepoint.c done the simple way: every update walks every instance."""

    def __init__(self) -> None:
        self.entries: dict[str, list[tuple[str, int]]] = {}
        self.modules: dict[str, tuple[str, list[str]]] = {}
        # instance key (owner, name) -> tuple of probes it calls, or None
        self.funcs: dict[tuple[str, str], tuple | None] = {("kernel", n): None for n in CORE}
        self.need_update = False

    def instances(self):
        return list(self.funcs)

    def update(self, keys=None) -> None:
        for key in keys if keys is not None else self.instances():
            probes = self.entries.get(key[1])
            self.funcs[key] = tuple(probes) if probes else None


class RegistryMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.reg = Registry(CORE, seed=11)
        self.ref = Reference()

    def _expect(self, call, ok: bool, code: int | None = None) -> bool:
        try:
            call()
        except TpfsError as exc:
            assert not ok, f"unexpected {exc.errno}"
            assert code is None or exc.errno == code
            return False
        assert ok, "expected an error"
        return True

    @rule(name=st.sampled_from(NAMES), probe=st.sampled_from(PROBES),
          noupdate=st.booleans())
    def register(self, name, probe, noupdate) -> None:
        have = probe in self.ref.entries.get(name, [])
        call = (self.reg.tracepoint_probe_register_noupdate if noupdate
                else self.reg.tracepoint_probe_register)
        if self._expect(lambda: call(name, *probe), not have, 17):
            self.ref.entries.setdefault(name, []).append(probe)
            if noupdate:
                self.ref.need_update = True
            else:
                self.ref.update()

    @rule(name=st.sampled_from(NAMES), probe=st.sampled_from(PROBES),
          noupdate=st.booleans())
    def unregister(self, name, probe, noupdate) -> None:
        have = probe in self.ref.entries.get(name, [])
        call = (self.reg.tracepoint_probe_unregister_noupdate if noupdate
                else self.reg.tracepoint_probe_unregister)
        if self._expect(lambda: call(name, *probe), have, 2):
            self.ref.entries[name].remove(probe)
            if not self.ref.entries[name]:
                del self.ref.entries[name]
            if noupdate:
                self.ref.need_update = True
            else:
                self.ref.update()

    @rule(name=st.sampled_from(NAMES))
    def unregister_all(self, name) -> None:
        if self._expect(lambda: self.reg.tracepoint_probe_unregister(name, None),
                        name in self.ref.entries, 2):
            del self.ref.entries[name]
            self.ref.update()

    @rule()
    def update_all(self) -> None:
        self.reg.tracepoint_probe_update_all()
        if self.ref.need_update:
            self.ref.update()
            self.ref.need_update = False

    @rule(mod=st.sampled_from(MODULES), events=st.lists(st.sampled_from(NAMES[1:]),
          unique=True, max_size=4), tainted=st.booleans())
    def load(self, mod, events, tainted) -> None:
        if self._expect(lambda: self.reg.module_coming(mod, events, "E" if tainted else ""),
                        mod not in self.ref.modules, 17):
            self.ref.modules[mod] = ("E" if tainted else "", events)
            if not tainted:
                keys = [(mod, e) for e in events]
                for key in keys:
                    self.ref.funcs[key] = None
                self.ref.update(keys)

    @precondition(lambda self: self.ref.modules)
    @rule(data=st.data())
    def unload(self, data) -> None:
        mod = data.draw(st.sampled_from(sorted(self.ref.modules)))
        self.reg.module_going(mod)
        _, events = self.ref.modules.pop(mod)
        for e in events:
            self.ref.funcs.pop((mod, e), None)

    @rule(mod=st.sampled_from(["nope"]))
    def unload_missing(self, mod) -> None:
        self._expect(lambda: self.reg.module_going(mod), False, 2)

    @invariant()
    def agrees(self) -> None:
        reg, ref = self.reg, self.ref
        got = {(tp.owner, tp.name): tp for tp in SortedWalk(reg).walk()}
        assert set(got) == set(ref.funcs)
        for key, funcs in ref.funcs.items():
            tp = got[key]
            want = tuple((p.func, p.data) for p in tp.funcs) if tp.funcs else None
            assert want == funcs, key
            assert tp.state == bool(funcs) and tp.nprobes == len(funcs or ())
        assert {n: [(p.func, p.data) for p in e.funcs] for n, e in reg.entries.items()} \
            == ref.entries
        assert reg.need_update == ref.need_update
        assert reg.tp_addresses == sorted(reg.tp_addresses)
        assert [m.address for m in reg.tp_modules] == reg.tp_addresses
        assert {m.name for m in reg.tp_modules} == {
            n for n, (t, _) in ref.modules.items() if not t}
        assert set(reg.modules) == set(ref.modules)
        if not reg.need_update:
            assert reg.pending_release == 0


TestRegistryMachine = RegistryMachine.TestCase
TestRegistryMachine.settings = settings(max_examples=150, stateful_step_count=40,
                                        deadline=None)
