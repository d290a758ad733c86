"""Timing loops and the figures printed for them."""

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

WARMUP = 20


@dataclass(frozen=True)
class Measurement:
    """Latencies of one operation repeated, and how long the whole run took."""

    latencies_ns: Sequence[int]
    wall_seconds: float

    def percentile(self, fraction: float) -> float:
        """The latency at `fraction` (0..1), in milliseconds (nearest rank)."""
        ordered = sorted(self.latencies_ns)
        rank = min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))
        return ordered[rank] / 1e6

    @property
    def p50(self) -> float:
        return self.percentile(0.50)

    @property
    def p95(self) -> float:
        return self.percentile(0.95)

    @property
    def p99(self) -> float:
        return self.percentile(0.99)

    @property
    def ops_per_second(self) -> float:
        return len(self.latencies_ns) / self.wall_seconds

    def as_dict(self) -> dict[str, float]:
        return {
            "p50_ms": round(self.p50, 3),
            "p95_ms": round(self.p95, 3),
            "p99_ms": round(self.p99, 3),
            "ops_per_s": round(self.ops_per_second, 1),
            "count": len(self.latencies_ns),
        }


def sequential(operation: Callable[[int], object], count: int) -> Measurement:
    """Run `operation(i)` `count` times in a row, after a short warm-up."""
    for i in range(WARMUP):
        operation(-1 - i)
    latencies = []
    started = time.perf_counter()
    for i in range(count):
        begin = time.perf_counter_ns()
        operation(i)
        latencies.append(time.perf_counter_ns() - begin)
    return Measurement(latencies, time.perf_counter() - started)


def concurrent(
    operation_for: Callable[[int], Callable[[int], object]], clients: int, per_client: int
) -> Measurement:
    """Run `clients` threads, each doing `operation_for(client)(i)` `per_client` times,
    all released at once after each warmed up on its own."""
    gate = threading.Barrier(clients + 1)
    latencies: list[list[int]] = [[] for _ in range(clients)]
    errors: list[BaseException] = []

    def client(number: int) -> None:
        operation = operation_for(number)
        try:
            for i in range(WARMUP // 4):
                operation(-1 - i)
        finally:
            gate.wait()
        try:
            for i in range(per_client):
                begin = time.perf_counter_ns()
                operation(i)
                latencies[number].append(time.perf_counter_ns() - begin)
        except BaseException as error:  # reported by the caller, not lost in a thread
            errors.append(error)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    gate.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    if errors:
        raise errors[0]
    return Measurement([ns for each in latencies for ns in each], wall)


@dataclass(frozen=True)
class Row:
    """One printed comparison: convobase against the plain driver, same operation."""

    workload: str
    backend: str
    convobase: Measurement
    plain: Measurement

    @property
    def ratio(self) -> float:
        return self.convobase.p95 / self.plain.p95

    @property
    def p50_ratio(self) -> float:
        return self.convobase.p50 / self.plain.p50

    def as_dict(self) -> dict[str, object]:
        return {
            "workload": self.workload,
            "backend": self.backend,
            "convobase": self.convobase.as_dict(),
            "plain": self.plain.as_dict(),
            "p50_ratio": round(self.p50_ratio, 2),
            "p95_ratio": round(self.ratio, 2),
        }


def markdown_table(rows: Sequence[Row], *, subject: str = "convobase") -> str:
    """The rows as a Markdown table: latencies in ms, throughput in operations/s."""
    lines = [
        f"| workload | db | {subject} p50 | p95 | p99 | ops/s | plain p50 | p95 | ops/s "
        "| p50 ratio | p95 ratio | ops/s ratio |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in rows:
        ours, plain = row.convobase, row.plain
        lines.append(
            f"| {row.workload} | {row.backend} | {ours.p50:.2f} | {ours.p95:.2f} "
            f"| {ours.p99:.2f} | {ours.ops_per_second:,.0f} | {plain.p50:.2f} "
            f"| {plain.p95:.2f} | {plain.ops_per_second:,.0f} | {row.p50_ratio:.2f}x "
            f"| {row.ratio:.2f}x | {ours.ops_per_second / plain.ops_per_second:.2f} |"
        )
    return "\n".join(lines)
