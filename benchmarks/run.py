"""Run the benchmarks and print their figures: `make bench` or `python benchmarks/run.py [NAME ...]`.

Each benchmark runs once per database engine (PostgreSQL and SQLite, or the
ones given with --engine) in its own process, against a throwaway migrated
database. Nothing here asserts a time; docs/performance.md records the figures.
"""

from __future__ import annotations

import argparse
import importlib
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS = [
    "trigger_cost",
    "secret_refusal_cost",
    "crypto_and_validation",
    "set_value_throughput",
    "write_path",
    "bulk_import",
    "history_page",
    "editor_sizes",
    "history_large_values",
    "import_and_archive",
    "runtime_reads",
    "runtime_freshness",
    "history_chain",
    "runtime_refresh_100k",
    "load",
    "api",
    "webhooks",
    "startup",
    "long_polls",
    "history_partitions",
]
ENGINES = ["postgres", "sqlite"]


def _run_one(name: str, engine: str) -> dict:
    sys.path.insert(0, str(ROOT))
    from benchmarks import harness

    module = importlib.import_module(f"benchmarks.{name}")
    harness.setup_django(engine, getattr(module, "SETTINGS", "config_site.settings"))
    with harness.scratch_database():
        return module.run()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("names", nargs="*", help=f"some of: {', '.join(BENCHMARKS)} (default: all)")
    parser.add_argument("--engine", action="append", choices=ENGINES)
    parser.add_argument("--child", nargs=2, metavar=("NAME", "ENGINE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_run_one(*args.child)))
        return 0
    for name in args.names or BENCHMARKS:
        for engine in args.engine or ENGINES:
            result = subprocess.run(
                [sys.executable, __file__, "--child", name, engine], capture_output=True, text=True, check=False
            )
            if result.returncode != 0:
                print(f"{name} [{engine}] failed:\n{result.stderr}", file=sys.stderr)
                return result.returncode
            figures = json.loads(result.stdout.strip().splitlines()[-1])
            shown = ", ".join(f"{k}: {v:.2f}" if isinstance(v, float) else f"{k}: {v}" for k, v in figures.items())
            print(f"{name} [{engine}] {shown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
