"""Write N synthetic Guangdong parcels to a GeoPackage (EPSG:4526, layer "parcels").

    python benchmarks/generate_parcels.py 1000000 benchmarks/out/parcels-1000000.gpkg --seed 2023
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from landsvc.parcels.synthetic import write_parcels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("count", type=int, help="number of parcels")
    parser.add_argument("out", type=Path, help="output .gpkg (overwritten)")
    parser.add_argument("--seed", type=int, default=2023)
    args = parser.parse_args()

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.unlink(missing_ok=True)
    start = time.perf_counter()
    write_parcels(args.out, args.count, seed=args.seed)
    elapsed = time.perf_counter() - start
    print(f"wrote {args.count} parcels to {args.out} in {elapsed:.1f} s")


if __name__ == "__main__":
    main()
