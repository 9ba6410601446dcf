"""Numbers written to the settings files, on tpfs and on the kernel's tracefs: each is
``kstrtoul_from_user`` in base 10 (a ``+`` sign and one newline taken, blanks refused)."""

from __future__ import annotations

import errno
from pathlib import Path

from compat.kernel import errno_of, write

#: (file, a value it takes, the value it was before): each is put back.
FILES = [("tracing_on", "1", "1"), ("buffer_percent", "7", "50")]


def test_a_setting_takes_a_plus_sign_and_one_newline(tracefs: Path) -> None:
    for name, value, before in FILES:
        try:
            write(tracefs / name, f"+{value}")
            assert (tracefs / name).read_text() == f"{value}\n"
            write(tracefs / name, f"0{value}\n")  # base 10: a leading 0 is no octal
            assert (tracefs / name).read_text() == f"{value}\n"
        finally:
            write(tracefs / name, before)


def test_a_setting_refuses_blanks_and_other_bases(tracefs: Path) -> None:
    for name, value, before in FILES:
        for form in (" {}", "{} ", "{}\t", "{}\n\n", "0x{}", "-{}"):
            try:
                assert errno_of(write, tracefs / name, form.format(value)) == errno.EINVAL, form
                assert (tracefs / name).read_text() == f"{before}\n"
            finally:
                write(tracefs / name, before)


def test_a_buffer_size_past_64_bits_is_erange(tracefs: Path) -> None:
    size = (tracefs / "buffer_size_kb").read_text()
    assert errno_of(write, tracefs / "buffer_size_kb", str(1 << 64)) == errno.ERANGE
    assert (tracefs / "buffer_size_kb").read_text() == size
