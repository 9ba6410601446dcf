"""Dynamic-event kinds are chosen through one table: a kind added there is taken
by the files that list it, shown, made into an event and removed, with nothing
else to change."""

from __future__ import annotations

import errno
from dataclasses import dataclass

import pytest

from tpfs.kernel.errors import TpfsError
from tpfs.kernel.registry import Limits, Registry
from tpfs.tracefs.dynamic import dynevents
from tpfs.tracefs.dynamic.kind import CreateContext, DynEvent, DynEventKind
from tpfs.tracefs.dynamic.removal import Removal
from tpfs.tracefs.events.catalog import Catalog
from tpfs.tracefs.tree import Tree


@dataclass(frozen=True, slots=True)
class Toy:
    event: str
    kind = "toy"

    @property
    def name(self) -> str:
        return f"toys:{self.event}"

    def show(self) -> str:
        return f"t:toys/{self.event}\n"

    def format(self, event_id: int, common_fields: str) -> str:
        return f'name: {self.event}\nID: {event_id}\nformat:\n{common_fields}\n\nprint fmt: ""\n'


class ToyKind(DynEventKind):
    name = "toy"
    log_as = "toy"

    def __init__(self) -> None:
        self.freed: list[str] = []

    def parse(self, line: str, ctx: CreateContext) -> DynEvent | None:
        if not line.startswith("t:toys/"):
            return None
        return Toy(line.removeprefix("t:toys/"))

    def match(self, definition: DynEvent, removal: Removal) -> bool:
        return True

    def free(self, definition: DynEvent, events: dynevents.DynamicEvents) -> None:
        self.freed.append(definition.name)


@pytest.fixture
def toy(monkeypatch: pytest.MonkeyPatch) -> ToyKind:
    kind = ToyKind()
    monkeypatch.setitem(dynevents.KINDS, "toy", kind)
    monkeypatch.setitem(dynevents.FILE_KINDS, "dynamic_events",
                        (*dynevents.FILE_KINDS["dynamic_events"], "toy"))
    return kind


def tree() -> Tree:
    return Tree(Registry(["sched:sched_switch"], seed=1, limits=Limits(max_modules=100)),
                Catalog(()))


def test_a_kind_in_the_table_makes_shows_and_removes_its_events(toy: ToyKind) -> None:
    t = tree()
    t.dynamic.write("dynamic_events", b"t:toys/one\n")
    assert t.dynamic.render("dynamic_events") == "t:toys/one\n"
    assert t.top.layer.exists("toys:one")
    assert t.top.layer.format("toys:one").startswith("name: one\nID: ")
    t.dynamic.write("dynamic_events", b"-:toys/one\n")
    assert not t.top.layer.exists("toys:one")
    assert toy.freed == ["toys:one"]
    assert t.dynamic.render("dynamic_events") == ""


def test_a_file_offers_a_line_only_to_its_own_kinds(toy: ToyKind) -> None:
    t = tree()
    with pytest.raises(TpfsError) as refused:
        t.dynamic.write("uprobe_events", b"t:toys/one\n")
    assert refused.value.errno == errno.EINVAL
    assert not t.top.layer.exists("toys:one")
