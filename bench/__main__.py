"""`python -m bench [--quick] [ROW ...]`: every row by default; the tables on stdout,
progress on stderr, a JSON copy in bench/results/."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from bench import airflow, apply, autoscale, dev, scale
from bench.report import Table, header, load_average, machine, save
from bench.stack import Stack, stack

ROWS: dict[str, Callable[[Stack, argparse.Namespace, Progress], list[Table]]] = {
    "apply": lambda made, args, progress: apply.run(made, args.clusters, progress),
    "autoscale": lambda made, args, progress: autoscale.run(made, args.samples, progress),
    "scale": lambda made, args, progress: scale.run(
        made, args.scale_clusters, args.scale_namespaces, progress
    ),
    "airflow": lambda made, args, progress: airflow.run(args.runs, args.idle_seconds, progress),
    "dev": lambda made, args, progress: dev.run(args.dev_runs, progress),
}
# (full, quick) sizes
SIZES = {"clusters": (20, 3), "samples": (10, 3), "scale_clusters": (200, 10)}
SIZES["scale_namespaces"] = (20, 2)
SIZES["runs"], SIZES["idle_seconds"], SIZES["dev_runs"] = (5, 1), (120, 30), (3, 1)


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if set(args.rows) - set(ROWS):
        parser.error(f"rows are {', '.join(ROWS)}")
    for name, (full, quick) in SIZES.items():
        if getattr(args, name) is None:
            setattr(args, name, quick if args.quick else full)
    about = machine()
    print(header(about), flush=True)
    tables: list[Table] = []
    columns = (TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn())
    try:
        with Progress(*columns, console=Console(stderr=True)) as progress, stack() as made:
            for row in args.rows or list(ROWS):
                done = ROWS[row](made, args, progress)
                print("\n\n".join(["", *(table.markdown() for table in done)]), flush=True)
                tables += done
    finally:
        about["load average at end"] = load_average()
        print(f"\nLoad average (1, 5, 15 min) at the end: {about['load average at end']}")
        print(f"JSON copy: {save(about, tables)}", file=sys.stderr)
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("rows", nargs="*", metavar="ROW", help=f"any of {', '.join(ROWS)}")
    parser.add_argument("--quick", action="store_true", help="a small version of every row")
    parser.add_argument("--clusters", type=int, help="apply: clusters, one at a time (20)")
    parser.add_argument("--samples", type=int, help="autoscale: bursts per look interval (10)")
    parser.add_argument("--scale-clusters", type=int, help="scale: AirflowClusters (200)")
    parser.add_argument("--scale-namespaces", type=int, help="scale: namespaces (20)")
    parser.add_argument("--runs", type=int, help="airflow: runs of each DAG per peer (5)")
    parser.add_argument("--idle-seconds", type=int, help="airflow: idle window per peer (120)")
    parser.add_argument("--dev-runs", type=int, help="dev: cold and warm starts of each (3)")
    return parser


if __name__ == "__main__":
    sys.exit(main())
