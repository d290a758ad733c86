"""Crisis classifiers beside the rules: a model may add signal, never take it away.

A `Classifier` screens one message, as the rule-based `Detector` does, and answers a
`Screening` or None. `Screener` runs the rules first, inline, then every configured
classifier in a small thread pool, and keeps the most severe screening: a classifier can
escalate the rules, but a lower severity, a None, an error, an answer that is not a
`Screening` or no answer within the timeout changes nothing. Classifiers are installed
as plug-ins in the `convobase.classifiers` entry-point group (see `load_classifiers`).
"""

import logging
import math
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Final, Protocol, overload, runtime_checkable

from convobase.safety.detector import Category, Screening, Severity

CLASSIFIER_ENTRY_POINTS: Final = "convobase.classifiers"
RULES: Final = "rules"
DEFAULT_TIMEOUT_SECONDS: Final = 2.0
# The most threads one screener's pool holds, however many classifiers it runs.
MAX_WORKERS: Final = 16
# `Verdict.detector_version` fits a column of this many characters...
DETECTOR_VERSION_LENGTH: Final = 200
# ...and no single "name version" in it takes more than this.
DETECTOR_VERSION_PART_LENGTH: Final = 80
ELLIPSIS: Final = "..."

logger = logging.getLogger("convobase.safety")

# The conversation's earlier user messages, oldest first, or a function that loads them.
Recent = Sequence[str] | Callable[[], Sequence[str]]


@runtime_checkable
class Classifier(Protocol):
    """Screens one user message for signs of crisis, as the rules do.

    `recent` are the conversation's earlier user messages, oldest first. Answer None when
    nothing is found. A classifier only adds signal: `Screener` keeps its screening only
    when it is more severe than the rules' one.
    """

    name: str
    version: str

    def classify(self, text: str, recent: Sequence[str]) -> Screening | None:
        """Screen `text`, with the conversation's earlier user messages as context."""
        ...


class RuleDetector(Protocol):
    """What `RuleClassifier` and `Screener` use of `convobase.safety.detector.Detector`."""

    lexicon_version: str

    def detect(self, text: str, *, recent: Sequence[str] = ()) -> Screening | None:
        """Screen one user message; `recent` are the conversation's earlier ones."""
        ...


class RuleClassifier:
    """The rule-based `Detector` as a `Classifier`: named "rules", versioned by its lexicon."""

    name: str = RULES

    def __init__(self, detector: RuleDetector) -> None:
        self.detector = detector
        self.version: str = detector.lexicon_version

    def classify(self, text: str, recent: Recent = ()) -> Screening | None:
        """Screen `text`; a function as `recent` is called only if the rules need it."""
        return self.detector.detect(text, recent=_earlier(recent))


@dataclass(frozen=True, slots=True)
class Verdict:
    """The screening of one message: the most severe answer, who gave it, and who ran."""

    screening: Screening
    # The name of the classifier whose screening won: "rules" unless one escalated them.
    source: str
    # "name version" of everything that answered, the rules first, then in configured
    # order, "; "-separated: "rules 2026.11.1; acme-model 3". At most 200 characters.
    detector_version: str


class ClassifierNotFound(LookupError):
    """A configured crisis classifier that no installed package provides."""

    def __init__(self, missing: Sequence[str], installed: Sequence[str]) -> None:
        self.missing = tuple(missing)
        self.installed = tuple(installed)
        known = ", ".join(self.installed) if self.installed else "none is installed"
        names = ", ".join(repr(name) for name in self.missing)
        super().__init__(
            f"unknown crisis classifier {names}: the {CLASSIFIER_ENTRY_POINTS} entry-point "
            f"group offers {known} (the rules always run and need no name)"
        )


def load_classifiers(names: Sequence[str]) -> list[Classifier]:
    """Build the crisis classifiers named, in order, from the `convobase.classifiers` group.

    Each entry point is a class or a factory called without arguments. Call this at
    start-up: an unknown name raises `ClassifierNotFound`, which lists the installed ones,
    and an entry point that builds something other than a `Classifier` raises TypeError.
    """
    if isinstance(names, str):
        raise TypeError("load_classifiers takes a sequence of names, not one string")
    if not names:
        return []
    installed = entry_points(group=CLASSIFIER_ENTRY_POINTS)
    missing = [name for name in names if name not in installed.names]
    if missing:
        raise ClassifierNotFound(missing, sorted(installed.names))
    classifiers: list[Classifier] = []
    for name in names:
        factory: Callable[[], object] = installed[name].load()
        classifier = factory()
        if not (
            isinstance(classifier, Classifier)
            and isinstance(classifier.name, str)
            and isinstance(classifier.version, str)
        ):
            raise TypeError(
                f"the {CLASSIFIER_ENTRY_POINTS} entry point {name!r} built a "
                f"{type(classifier).__name__}, not a Classifier (name: str, version: str, "
                "classify(text, recent))"
            )
        classifiers.append(classifier)
    return classifiers


class _Skipped:
    """The answer of a classifier that failed, answered garbage or timed out."""


_SKIPPED: Final = _Skipped()


class Screener:
    """Screens messages with the rules, then lets the configured classifiers escalate.

    The rules run first, in the calling thread. Each other classifier then runs in this
    screener's thread pool (shared by every call) and is waited for at most `timeout`
    seconds from when the call hands it over; they run side by side, so a call waits
    about `timeout` at most beyond the rules, however many there are. The most severe
    screening wins; on equal severity the rules win, then the classifier configured first.

    A classifier that raises, answers something other than a `Screening`, or does not
    answer in time is skipped with a warning on the `convobase.safety` logger (its name
    and the kind of error, never the message's text); the message is never blocked by
    one. A timed-out call is abandoned, not killed: it keeps its thread until it returns
    on its own, so a classifier that hangs for good ties up a worker for good (later
    calls queue behind it and time out), and it delays the process's exit, since Python
    joins a pool's threads at exit. Give a classifier its own time limits (an HTTP
    timeout, say) shorter than the screener's.

    Earlier messages are loaded at most once a call, in the calling thread (a loader may
    use the request's database session), and only when the rules need them or some other
    classifier is configured; those get them as a plain tuple. Without other classifiers
    nothing but the rules runs and no thread is started. Errors of the rules themselves
    and of the loader are not caught: they are the caller's.
    """

    def __init__(
        self,
        detector: RuleDetector,
        classifiers: Sequence[Classifier] = (),
        *,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        workers: int | None = None,
    ) -> None:
        if not (math.isfinite(timeout) and timeout > 0):
            raise ValueError(
                f"a classifier timeout must be a positive number of seconds: {timeout}"
            )
        self.rules = RuleClassifier(detector)
        self.classifiers: tuple[Classifier, ...] = tuple(classifiers)
        self.timeout = timeout
        # Read once: a classifier's name and version label every verdict and warning.
        self._labels = [(str(c.name), str(c.version)) for c in self.classifiers]
        seen = {RULES}
        for name, _ in self._labels:
            if name in seen:
                raise ValueError(
                    f"each crisis classifier needs a name of its own, not 'rules': {name!r}"
                )
            seen.add(name)
        self._pool: ThreadPoolExecutor | None = None
        if self.classifiers:
            size = workers if workers is not None else min(MAX_WORKERS, 4 * len(self.classifiers))
            if size < 1:
                raise ValueError(f"a screener needs at least one worker thread: {size}")
            self._pool = ThreadPoolExecutor(size, thread_name_prefix="crisis-classifier")

    def screen(self, text: str, recent: Recent = ()) -> Verdict | None:
        """Screen one user message; `recent` loads the conversation's earlier user messages."""
        earlier = _Earlier.of(recent)
        best = self.rules.classify(text, earlier)
        source = RULES
        ran = [f"{RULES} {self.rules.version}"]
        winner = 0
        if self._pool is not None:
            context = earlier()
            deadline = time.monotonic() + self.timeout
            futures = [self._submit(c, text, context) for c in self.classifiers]
            for (name, version), future in zip(self._labels, futures, strict=True):
                answer = self._answer(name, future, deadline)
                if isinstance(answer, _Skipped):
                    continue
                ran.append(f"{name} {version}")
                if isinstance(answer, Screening) and (
                    best is None or answer.severity > best.severity
                ):
                    best, source, winner = answer, name, len(ran) - 1
        if best is None:
            return None
        return Verdict(screening=best, source=source, detector_version=_fit(ran, winner))

    def close(self, *, wait: bool = False) -> None:
        """Stop the pool: queued calls are dropped; running ones are waited for if `wait`."""
        if self._pool is not None:
            self._pool.shutdown(wait=wait, cancel_futures=True)

    def _submit(
        self, classifier: Classifier, text: str, context: Sequence[str]
    ) -> Future[Screening | None] | None:
        assert self._pool is not None
        try:
            return self._pool.submit(classifier.classify, text, context)
        except RuntimeError:  # closed, as the process stops: the rules still answer
            return None

    def _answer(
        self, name: str, future: Future[Screening | None] | None, deadline: float
    ) -> Screening | _Skipped | None:
        if future is None:
            _skip(name, "ScreenerClosed", "the screener is closed")
            return _SKIPPED
        try:
            error = future.exception(timeout=max(0.0, deadline - time.monotonic()))
        except TimeoutError:
            future.cancel()  # still queued: it never runs
            _skip(name, "TimeoutError", f"no answer within {self.timeout}s")
            return _SKIPPED
        if error is not None:
            kind = type(error).__name__
            _skip(name, kind, f"it raised {kind}")
            return _SKIPPED
        answer = future.result()
        if not _is_screening(answer):
            kind = type(answer).__name__
            what = "a malformed Screening" if isinstance(answer, Screening) else kind
            _skip(name, f"invalid answer: {kind}", f"it answered {what}, not a Screening")
            return _SKIPPED
        return answer


def _skip(name: str, error: str, why: str) -> None:
    logger.warning(
        "crisis classifier %s skipped: %s", name, why, extra={"classifier": name, "error": error}
    )


def _is_screening(answer: object) -> bool:
    # None means "nothing found"; a Screening's severity is compared, so it must be one.
    return answer is None or (
        isinstance(answer, Screening)
        and isinstance(answer.severity, Severity)
        and isinstance(answer.category, Category)
        and isinstance(answer.concern, Category)
    )


def _fit(parts: Sequence[str], winner: int) -> str:
    """Join "name version" parts within DETECTOR_VERSION_LENGTH characters.

    Each part is cut to DETECTOR_VERSION_PART_LENGTH; if they still do not fit, the rules
    (first) and the winner are kept, then as many others as fit in configured order, and
    "+N more" counts the rest.
    """
    cut = [_shorten(part, DETECTOR_VERSION_PART_LENGTH) for part in parts]
    joined = "; ".join(cut)
    if len(joined) <= DETECTOR_VERSION_LENGTH:
        return joined
    kept = sorted({0, winner})
    for index in range(1, len(cut)):
        if index in kept:
            continue
        trial = sorted([*kept, index])
        if len(_with_more(cut, trial)) <= DETECTOR_VERSION_LENGTH:
            kept = trial
    return _shorten(_with_more(cut, kept), DETECTOR_VERSION_LENGTH)


def _with_more(parts: Sequence[str], kept: Sequence[int]) -> str:
    dropped = len(parts) - len(kept)
    return "; ".join([*(parts[i] for i in kept), *([f"+{dropped} more"] if dropped else [])])


def _shorten(text: str, length: int) -> str:
    return text if len(text) <= length else text[: length - len(ELLIPSIS)] + ELLIPSIS


def _earlier(recent: Recent) -> Sequence[str]:
    """`recent` as a sequence; a loader becomes one that calls it on first use."""
    return _Earlier.of(recent) if callable(recent) else recent


class _Earlier(Sequence[str]):
    """The earlier user messages, loaded on first use, at most once.

    It is a sequence, which `Detector.detect` takes, and also the loader itself (calling
    it answers the loaded tuple), for a detector that takes a function and calls it only
    when it needs the messages.
    """

    __slots__ = ("_load", "_loaded")

    def __init__(self, load: Callable[[], Sequence[str]]) -> None:
        self._load = load
        self._loaded: tuple[str, ...] | None = None

    @classmethod
    def of(cls, recent: Recent) -> "_Earlier":
        if isinstance(recent, _Earlier):
            return recent
        if callable(recent):
            return cls(recent)
        given = tuple(recent)
        return cls(lambda: given)

    def __call__(self) -> tuple[str, ...]:
        if self._loaded is None:
            self._loaded = tuple(self._load())
        return self._loaded

    def __len__(self) -> int:
        return len(self())

    @overload
    def __getitem__(self, index: int) -> str: ...

    @overload
    def __getitem__(self, index: slice) -> tuple[str, ...]: ...

    def __getitem__(self, index: int | slice) -> str | tuple[str, ...]:
        return self()[index]

    def __iter__(self) -> Iterator[str]:
        return iter(self())
