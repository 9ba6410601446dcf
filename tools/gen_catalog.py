"""Regenerate tpfs/tracefs/data/catalog.json.gz from a live tracefs.

Run as root on the kernel whose events should become the default:

    python tools/gen_catalog.py                 # the host's tracefs
    python tools/gen_catalog.py --from DIR      # an already mounted tracefs
"""

from __future__ import annotations

import argparse
from pathlib import Path

from tpfs.tracefs.events import catalog

OUT = Path(__file__).resolve().parent.parent / "tpfs" / "tracefs" / "data" / "catalog.json.gz"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--from", dest="src", help="a mounted tracefs directory")
    parser.add_argument("--out", default=str(OUT), help="where to write the catalogue")
    args = parser.parse_args()
    cat = catalog.read_tracefs(args.src) if args.src else catalog.load_host()
    catalog.dump(cat, args.out)
    print(f"{len(cat.events)} events written to {args.out}")


if __name__ == "__main__":
    main()
