"""Run every benchmark in this folder and write one JSON object of named figures.

Each ``bench_*.py`` module exposes ``run() -> dict[str, float]``. Figures are measured, never
asserted: the machines are shared and noisy. Output: printed table + ``bench-results.json``.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def main(argv: list[str]) -> int:
    only = set(argv)
    figures: dict[str, float] = {}
    package = Path(__file__).parent
    for info in sorted(pkgutil.iter_modules([str(package)]), key=lambda m: m.name):
        if not info.name.startswith("bench_") or (only and info.name not in only):
            continue
        module = importlib.import_module(f"tests.bench.{info.name}")
        started = time.perf_counter()
        print(f"== {info.name}", flush=True)
        results = module.run()
        for name, value in results.items():
            if name in figures:
                raise SystemExit(f"figure {name!r} reported twice")
            figures[name] = float(value)
            print(f"   {name:<45} {value:>14.3f}", flush=True)
        print(f"   ({time.perf_counter() - started:.1f} s)", flush=True)
    out = ROOT / "bench-results.json"
    out.write_text(json.dumps(figures, indent=2, sort_keys=True) + "\n")
    print(f"wrote {len(figures)} figures to {out.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
