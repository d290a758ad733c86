"""Measure a detector against labelled cases: recall per severity, false positives on benign.

    .venv/bin/python -m convobase.safety.evaluation tests/safety/cases.jsonl
    .venv/bin/python -m convobase.safety.evaluation tests/safety/cases.jsonl --speed

A case is one JSON object per line: `text`, optional `recent` (earlier user messages,
newest last), `category` and `severity` (both null for a benign message), `language`
and a free-form `note`. The exit status is 0 when the targets hold (every high and
critical case recalled, at most 3% of benign cases flagged moderate or above).
"""

import argparse
import importlib
import inspect
import json
import statistics
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from convobase.safety.detector import Category, Detector, Screening, Severity

# The targets the detector is held to (docs/safety-detector.md).
REQUIRED_RECALL = {Severity.HIGH: 1.0, Severity.CRITICAL: 1.0}
MAX_BENIGN_FLAGGED_MODERATE = 0.03
SPEED_BUDGETS_MS = {200: 0.1, 32 * 1024: 2.0}
PROSE_MODULES = ("argparse", "collections", "json", "logging", "pathlib", "re", "typing")


@dataclass(frozen=True, slots=True)
class Case:
    """One labelled message (and the conversation's earlier user messages)."""

    text: str
    category: Category | None
    severity: Severity | None
    language: str
    recent: tuple[str, ...] = ()
    note: str = ""

    @property
    def benign(self) -> bool:
        """Whether nothing should be found in this message."""
        return self.severity is None


@dataclass(frozen=True, slots=True)
class Outcome:
    """What the detector answered for a case."""

    case: Case
    screening: Screening | None

    @property
    def recalled(self) -> bool:
        """The expected category at the expected severity or higher."""
        if self.case.severity is None or self.screening is None:
            return False
        return (
            self.screening.category is self.case.category
            and self.screening.severity >= self.case.severity
        )


@dataclass(slots=True)
class SeverityRecall:
    """Recall of the cases labelled with one severity."""

    severity: Severity
    total: int = 0
    recalled: int = 0
    exact: int = 0

    @property
    def recall(self) -> float:
        """The share recalled (1.0 when there is no case)."""
        return self.recalled / self.total if self.total else 1.0


@dataclass(slots=True)
class Report:
    """The evaluation of a detector over a set of cases."""

    by_severity: dict[Severity, SeverityRecall]
    benign_total: int = 0
    benign_flagged: int = 0
    benign_flagged_moderate: int = 0
    misses: list[Outcome] = field(default_factory=list)
    false_positives: list[Outcome] = field(default_factory=list)

    @property
    def benign_flagged_rate(self) -> float:
        """The share of benign cases flagged at all."""
        return self.benign_flagged / self.benign_total if self.benign_total else 0.0

    @property
    def benign_flagged_moderate_rate(self) -> float:
        """The share of benign cases flagged moderate or above."""
        return self.benign_flagged_moderate / self.benign_total if self.benign_total else 0.0

    @property
    def meets_targets(self) -> bool:
        """Whether recall and false-positive targets hold."""
        recall_ok = all(
            self.by_severity[severity].recall >= required
            for severity, required in REQUIRED_RECALL.items()
        )
        return recall_ok and self.benign_flagged_moderate_rate <= MAX_BENIGN_FLAGGED_MODERATE


def load_cases(path: Path) -> list[Case]:
    """Read cases from a JSON Lines file (blank lines and lines starting with # skipped)."""
    cases: list[Case] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            data = json.loads(line)
            category = data.get("category")
            severity = data.get("severity")
            if (category is None) != (severity is None):
                raise ValueError("category and severity are both set or both null")
            cases.append(
                Case(
                    text=str(data["text"]),
                    category=None if category is None else Category(category),
                    severity=None if severity is None else Severity.parse(severity),
                    language=str(data.get("language", "")),
                    recent=tuple(str(message) for message in data.get("recent", [])),
                    note=str(data.get("note", "")),
                )
            )
        except (ValueError, KeyError, TypeError) as error:
            raise ValueError(f"{path}:{number}: {error}") from None
    return cases


def evaluate(detector: Detector, cases: Iterable[Case]) -> Report:
    """Run the detector over the cases and count recall and false positives."""
    report = Report(by_severity={severity: SeverityRecall(severity) for severity in Severity})
    for case in cases:
        outcome = Outcome(case, detector.detect(case.text, recent=case.recent))
        screening = outcome.screening
        if case.severity is None:
            report.benign_total += 1
            if screening is not None:
                report.benign_flagged += 1
                report.false_positives.append(outcome)
                if screening.severity >= Severity.MODERATE:
                    report.benign_flagged_moderate += 1
            continue
        tally = report.by_severity[case.severity]
        tally.total += 1
        if outcome.recalled:
            tally.recalled += 1
            assert screening is not None
            if screening.severity is case.severity:
                tally.exact += 1
        else:
            report.misses.append(outcome)
    return report


def format_report(report: Report) -> str:
    """Return the report as a small plain-text table, then the misses and false alarms."""
    lines = [
        f"{'expected':<10} {'cases':>6} {'recalled':>9} {'recall':>8} {'exact':>6}",
    ]
    for severity in Severity:
        tally = report.by_severity[severity]
        lines.append(
            f"{severity.label:<10} {tally.total:>6} {tally.recalled:>9} "
            f"{tally.recall:>8.1%} {tally.exact:>6}"
        )
    lines.append("")
    lines.append(
        f"benign     {report.benign_total:>6}  flagged at all {report.benign_flagged:>3} "
        f"({report.benign_flagged_rate:.1%}), moderate or above "
        f"{report.benign_flagged_moderate:>3} ({report.benign_flagged_moderate_rate:.1%})"
    )
    lines.append(f"targets    {'met' if report.meets_targets else 'NOT met'}")
    for title, outcomes in (("missed", report.misses), ("flagged benign", report.false_positives)):
        if outcomes:
            lines.append("")
            lines.append(f"{title}:")
        for outcome in outcomes:
            found = outcome.screening
            answer = "nothing" if found is None else f"{found.category} {found.severity.label}"
            expected = (
                "benign"
                if outcome.case.severity is None
                else f"{outcome.case.category} {outcome.case.severity.label}"
            )
            lines.append(f"  {outcome.case.text[:70]!r}: expected {expected}, got {answer}")
    return "\n".join(lines)


def measure_speed(detector: Detector, cases: Sequence[Case]) -> str:
    """Time `detect` by hand on 200-byte and 32 KiB messages; return a table."""
    # The budgets are for ordinary messages: chat (the benign cases, two or three to a
    # message) and prose (Python's own docstrings, as a long pasted text), with and
    # without one crisis sentence. Messages made only of crisis cases are the worst case.
    benign = [case.text for case in cases if case.benign] or ["hello"]
    crisis = [case.text for case in cases if not case.benign] or ["I want to die"]
    everything = [case.text for case in cases] or benign
    prose = _prose()
    inputs: list[tuple[int, str, list[str], bool]] = []
    for size in (200, 32 * 1024):
        long = size > 1000
        chat = [_message_of(benign, size, offset) for offset in range(50)]
        inputs.append(
            (
                size,
                "prose" if long else "chat",
                [_message_of(prose, size, o * 7) for o in range(5)] if long else chat,
                True,
            )
        )
        inputs.append(
            (
                size,
                "+ crisis",
                [
                    _with(_message_of(prose if long else benign, size, offset * 7), crisis[offset])
                    for offset in range(min(50, len(crisis)))
                ],
                True,
            )
        )
        inputs.append(
            (size, "all cases", [_message_of(everything, size, o * 3) for o in range(20)], False)
        )
    lines = [f"{'size':>6} {'input':<10} {'p50 ms':>8} {'p95 ms':>8} {'budget':>7}"]
    for size, kind, messages, budgeted in inputs:
        runs = 3000 if size <= 1000 else 60
        samples: list[float] = []
        for index in range(runs):
            message = messages[index % len(messages)]
            started = time.perf_counter()
            detector.detect(message)
            samples.append((time.perf_counter() - started) * 1000)
        samples.sort()
        p50 = statistics.median(samples)
        p95 = samples[min(len(samples) - 1, int(len(samples) * 0.95))]
        budget = f"{SPEED_BUDGETS_MS[size]:>7.3f}" if budgeted else f"{'-':>7}"
        lines.append(f"{size:>6} {kind:<10} {p50:>8.3f} {p95:>8.3f} {budget}")
    return "\n".join(lines)


def _prose() -> list[str]:
    # Ordinary long text that ships with Python: the docstrings of some standard modules.
    texts: list[str] = []
    for name in PROSE_MODULES:
        module = importlib.import_module(name)
        for value in (module, *(getattr(module, attribute) for attribute in dir(module))):
            doc = inspect.getdoc(value)
            if doc and len(doc) > 200 and doc not in texts:
                texts.append(doc)
    return texts


def _with(message: str, sentence: str) -> str:
    # The sentence in the middle of the message, which keeps (about) its size.
    middle = len(message) // 2
    cut = message.rfind(" ", 0, middle)
    return message[: max(cut, 0)] + " " + sentence + " " + message[max(cut, 0) + len(sentence) :]


def _message_of(pool: Sequence[str], size: int, offset: int) -> str:
    # Whole texts, one after another, cut at `size` bytes (never inside a character).
    parts: list[str] = []
    length = 0
    index = offset
    while length < size:
        text = pool[index % len(pool)]
        parts.append(text)
        length += len(text.encode()) + 1
        index += 1
    return " ".join(parts).encode()[:size].decode(errors="ignore")


def main(argv: Sequence[str] | None = None) -> int:
    """Evaluate the shipped detector on a cases file; print the table (and timings)."""
    parser = argparse.ArgumentParser(prog="python -m convobase.safety.evaluation")
    parser.add_argument("cases", type=Path, help="a JSON Lines file of labelled cases")
    parser.add_argument("--speed", action="store_true", help="also time detect() by hand")
    arguments = parser.parse_args(argv)
    detector = Detector()
    cases = load_cases(arguments.cases)
    report = evaluate(detector, cases)
    print(f"lexicon {detector.lexicon_version} ({', '.join(detector.languages)}), ", end="")
    print(f"{len(cases)} cases from {arguments.cases}\n")
    print(format_report(report))
    if arguments.speed:
        print()
        print(measure_speed(detector, cases))
    return 0 if report.meets_targets else 1


if __name__ == "__main__":
    sys.exit(main())
