"""The registry's control files without a mount: ``modules/`` and ``probes/`` on the tree
object, each write one batch applied whole or refused whole, and rm of what they list."""

from __future__ import annotations

import errno

import pytest
from tracefs.treefiles import TreeFiles, refused

from tpfs.tracefs.vfs.nodes import Directory


@pytest.fixture
def files() -> TreeFiles:
    return TreeFiles()


def unlink(files: TreeFiles, path: str) -> None:
    parent, _, name = path.rpartition("/")
    directory = files.node(parent)
    assert isinstance(directory, Directory)
    files.tree.unlink(directory, name)


def test_load_lists_the_modules_and_their_events(files: TreeFiles) -> None:
    files.write("modules/load", "\nalpha a:one a:two\n\nbeta taint=OE b:x\n")
    assert files.listing("modules")[:2] == ["load", "unload"]
    assert set(files.listing("modules")[2:]) == {"alpha", "beta"}
    assert files.read("modules/alpha").splitlines()[1:] == [
        "taints -", "registered yes", "tracepoint a:one", "tracepoint a:two"]
    assert files.read("modules/beta").splitlines()[1:3] == ["taints OE", "registered no"]
    assert files.listing("events/a")[2:] == ["one", "two"]
    assert files.node("events/b") is None  # a tainted module's events are not made


@pytest.mark.parametrize("text, err", [
    ("m c:d\n", errno.EEXIST),  # m is loaded
    ("n c:d\nm e:f\n", errno.EEXIST),  # n must not load either
    ("n c:d\nbad! x:y\n", errno.EINVAL),
    ("n enable:x\n", errno.EINVAL),  # would collide with events/enable
    ("n x:filter\n", errno.EINVAL),  # would collide with events/x/filter
])
def test_a_refused_load_batch_changes_nothing(files: TreeFiles, text: str, err: int) -> None:
    files.write("modules/load", "m a:b\n")
    before = files.listing("modules"), files.read("available_events")
    assert refused(files.write, "modules/load", text) == err
    assert (files.listing("modules"), files.read("available_events")) == before


def test_unload_and_rm_take_modules_and_their_events(files: TreeFiles) -> None:
    files.write("modules/load", "m a:b\nn c:d\n")
    assert refused(files.write, "modules/unload", "m\nzz\n") == errno.ENOENT  # m stays
    assert "m" in files.listing("modules")
    files.write("modules/unload", "m\n")
    assert "m" not in files.listing("modules") and "a:b" not in files.read("available_events")
    unlink(files, "modules/n")
    assert files.listing("modules") == ["load", "unload"]
    assert refused(unlink, files, "modules/n") == errno.ENOENT
    assert refused(unlink, files, "modules/load") == errno.EPERM
    assert refused(unlink, files, "events") == errno.EPERM


def test_register_unregister_and_rm_of_an_entry(files: TreeFiles) -> None:
    files.write("probes/register", "later:ev p\nlater:ev p 0x10\nlater:ev q 5\n")
    assert files.read("probes/later:ev") == "p 0x0 0\np 0x10 0\nq 0x5 0\n"
    assert refused(files.write, "probes/register", "later:ev p 16\n") == errno.EEXIST
    assert refused(files.write, "probes/unregister", "later:ev q 5\nlater:ev q 5\n") == \
        errno.ENOENT
    assert files.read("probes/later:ev") == "p 0x0 0\np 0x10 0\nq 0x5 0\n"
    files.write("probes/unregister", "later:ev p 0x10\n")
    assert files.read("probes/later:ev") == "p 0x0 0\nq 0x5 0\n"
    unlink(files, "probes/later:ev")
    assert files.node("probes/later:ev") is None


def test_a_noupdate_batch_waits_for_update(files: TreeFiles) -> None:
    files.write("modules/load", "m m:a\n")
    files.write("probes/register_noupdate", "m:a p\n")
    assert files.read("tracepoints").splitlines()[-1] == "m:a m 0 0"
    files.write("probes/update", "1\n")
    assert files.read("tracepoints").splitlines()[-1] == "m:a m 1 1"
