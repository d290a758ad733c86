"""Benchmarks: `python -m bench [store|trigger|http|http-mixed|drivers|jobs|screening|
learning|tutoring|all] [--backend sqlite|postgresql|all] [--quick] [--json FILE]`. Each figure is
printed beside the plain driver's, same run; `http` includes `http-mixed` (latest-50
reads while 8 clients append, beside the same reads alone); `jobs` puts the job queue
beside procrastinate's (PostgreSQL); `screening` times the crisis detector beside a
naive keyword regex, and what screening adds to a store-level append; `learning` times
the catalog, the dashboard, an assessment attempt and the due reviews on 10,000
learners' progress, attempts and review cards; `tutoring` times a roleplay turn
beside an ordinary and a plain append, and the evaluation of a 40-word line."""

import argparse
import json
import platform
import sqlite3
import sys
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path

from bench import store
from bench.databases import (
    BACKENDS,
    BenchDatabase,
    bench_database,
    postgres_admin_url,
    postgres_connect,
)
from bench.measure import Measurement, Row, markdown_table


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "suite",
        nargs="?",
        choices=(
            "store",
            "trigger",
            "http",
            "http-mixed",
            "drivers",
            "jobs",
            "screening",
            "learning",
            "tutoring",
            "all",
        ),
        default="all",
    )
    parser.add_argument("--backend", choices=(*BACKENDS, "all"), default="all")
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--json", type=Path, help="also write the results here")
    options = parser.parse_args(argv)
    backends = BACKENDS if options.backend == "all" else (options.backend,)

    print(machine_line(), flush=True)
    results: dict[str, list[dict[str, object]]] = {}
    if options.suite in ("store", "all"):
        sizes = store.Sizes.quick() if options.quick else store.Sizes.full()
        rows: list[Row] = []
        for backend in backends:
            print(f"store workloads on {backend} ...", file=sys.stderr, flush=True)
            with bench_database(backend) as database:
                rows += store.run(database, sizes)
        print("\n## Store level\n")
        print(markdown_table(rows))
        print(flatness(rows))
        results["store"] = [row.as_dict() for row in rows]
    if options.suite in ("store", "trigger", "all"):
        sizes = store.Sizes.quick() if options.quick else store.Sizes.full()
        print("\n## The analysis trigger on the append path\n")
        results["trigger"] = cost_table(
            "trigger", backends, lambda database: store.trigger_cost(database, sizes)
        )
    if options.suite in ("store", "screening", "all"):
        sizes = store.Sizes.quick() if options.quick else store.Sizes.full()
        for title, content in (
            ("an ordinary message", store.CONTENT),
            ("a crisis message, which also records its event", store.CRISIS_CONTENT),
        ):
            print(f"\n## Crisis screening on the append path: {title}\n")
            results[f"screening on append: {title}"] = cost_table(
                "screening", backends, partial(store.screening_cost, sizes=sizes, content=content)
            )
    if options.suite in ("http", "all"):
        from bench import http

        http_rows = []
        for backend in backends:
            print(f"HTTP workloads on {backend} ...", file=sys.stderr, flush=True)
            with bench_database(backend) as database:
                http_rows += http.run(database, quick=options.quick)
        print("\n## HTTP\n")
        print(http.markdown_table(http_rows))
        results["http"] = [row.as_dict() for row in http_rows]
    if options.suite in ("http", "http-mixed", "all"):
        from bench import http

        mixed_rows = []
        for backend in backends:
            print(f"HTTP reads while appending on {backend} ...", file=sys.stderr, flush=True)
            with bench_database(backend) as database:
                mixed_rows += http.run_mixed(database, quick=options.quick)
        print("\n## HTTP, latest-50 reads while clients append\n")
        print(http.mixed_markdown_table(mixed_rows))
        results["http-mixed"] = [row.as_dict() for row in mixed_rows]
    if options.suite in ("drivers", "all") and "postgresql" in backends:
        from bench import drivers

        print("PostgreSQL drivers ...", file=sys.stderr, flush=True)
        with bench_database("postgresql") as database:
            measured = drivers.run(database, operations=200 if options.quick else 800)
        print("\n## PostgreSQL drivers, plain\n")
        print(drivers.markdown_table(measured))
        results["drivers"] = [
            {"operation": op, "clients": n, "driver": driver, **m.as_dict()}
            for op, n, driver, m in measured
        ]
    if options.suite in ("jobs", "all"):
        from bench import jobs

        job_rows = []
        for backend in backends:
            print(f"background jobs on {backend} ...", file=sys.stderr, flush=True)
            job_rows += jobs.run(backend, quick=options.quick)
        print("\n## Background jobs\n")
        print(jobs.markdown_table(job_rows))
        results["jobs"] = [row.as_dict() for row in job_rows]
    if options.suite in ("screening", "all"):
        from bench import screening

        print("crisis screening ...", file=sys.stderr, flush=True)
        screening_sizes = screening.Sizes.quick() if options.quick else screening.Sizes.full()
        screening_rows = screening.run(screening_sizes)
        print("\n## Crisis screening (no database)\n")
        print(screening.markdown_table(screening_rows))
        results["screening"] = [row.as_dict() for row in screening_rows]
    if options.suite in ("learning", "all"):
        from bench import learning

        results["learning"] = learning.suite(backends, quick=options.quick)
    if options.suite in ("tutoring", "all"):
        from bench import tutoring

        results["tutoring"] = [tutoring.suite(backends, quick=options.quick)]
    if options.json is not None:
        options.json.parent.mkdir(parents=True, exist_ok=True)
        options.json.write_text(json.dumps({"machine": machine_line(), **results}, indent=2))
    return 0


def flatness(rows: Sequence[Row]) -> str:
    """How the costs grow with the conversation: append p95 with the longest history
    over the shortest, and latest-50 p50 from the longest conversation over the
    shortest."""
    lines = []
    for backend in BACKENDS:
        mine = [row for row in rows if row.backend == backend]
        growth = [row for row in mine if row.workload.startswith("append at ")]
        reads = [row for row in mine if row.workload.endswith(" messages")]
        reads = [row for row in reads if row.workload.startswith("latest-50 read, ")]
        if len(growth) >= 2:
            first, last = growth[0], growth[-1]
            lines.append(
                f"- {backend}: append p95 {last.workload.removeprefix('append ')} is "
                f"{last.convobase.p95 / first.convobase.p95:.2f}x the p95 "
                f"{first.workload.removeprefix('append ')} (target ≤ 1.5x)"
            )
        if len(reads) >= 2:
            short, long = reads[0], reads[-1]
            lines.append(
                f"- {backend}: latest-50 p50 from {long.workload.split(', ')[1]} is "
                f"{long.convobase.p50 / short.convobase.p50:.2f}x the p50 from "
                f"{short.workload.split(', ')[1]} (target ≤ 1.2x)"
            )
    return "\nCost as conversations grow:\n" + "\n".join(lines)


def cost_table(
    what: str,
    backends: Sequence[str],
    measure: Callable[[BenchDatabase], tuple[Measurement, Measurement]],
) -> list[dict[str, object]]:
    """Print append latencies with `what` on and off on each backend, and what it adds."""
    print(f"| db | append p50, {what} on | off | p95 on | off | p50 added |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    rows: list[dict[str, object]] = []
    for backend in backends:
        with bench_database(backend) as database:
            on, off = measure(database)
        added = on.p50 / off.p50 - 1
        print(
            f"| {backend} | {on.p50:.3f} | {off.p50:.3f} | {on.p95:.3f} | {off.p95:.3f} "
            f"| {added:+.1%} |",
            flush=True,
        )
        rows.append({"backend": backend, "on": on.as_dict(), "off": off.as_dict()})
    return rows


def machine_line() -> str:
    postgres = "unreachable"
    try:
        with postgres_connect(postgres_admin_url()) as connection:
            row = connection.execute("SHOW server_version").fetchone()
            postgres = str(row[0]) if row else "?"
    except Exception as error:  # the line reports it; the PostgreSQL runs will fail loudly
        postgres = f"unreachable ({type(error).__name__})"
    cpus = len(__import__("os").sched_getaffinity(0))
    return (
        f"Machine: {platform.platform()}, {cpus} CPUs, Python {platform.python_version()},"
        f" SQLite {sqlite3.sqlite_version}, PostgreSQL {postgres}"
    )


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
