"""Crisis classifiers beside the rules: they may escalate, never lower, silence or block."""

import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from importlib.metadata import EntryPoint, EntryPoints

import pytest

from convobase.safety import Category, Screening, Severity, default_detector
from convobase.safety import classifier as classifier_module
from convobase.safety.classifier import (
    CLASSIFIER_ENTRY_POINTS,
    DETECTOR_VERSION_LENGTH,
    Classifier,
    ClassifierNotFound,
    RuleClassifier,
    RuleDetector,
    Screener,
    Verdict,
    load_classifiers,
)

# Long enough never to expire on a busy machine: only the slow-classifier test times out.
PATIENT = 60.0
LEXICON_VERSION = default_detector().lexicon_version
SECRET = "I want to die, says the user, in words no log may keep"


def screening(severity: Severity, category: Category = Category.SUICIDE) -> Screening:
    return Screening(
        category=category,
        severity=severity,
        keywords=("model",),
        lexicon_version="acme 3",
        about_someone_else=False,
        concern=category,
    )


class Fixed:
    """A classifier that always answers the same thing and remembers what it was given."""

    def __init__(self, answer: object, name: str = "acme-model", version: str = "3") -> None:
        self.answer = answer
        self.name = name
        self.version = version
        self.given: list[Sequence[str]] = []

    def classify(self, text: str, recent: Sequence[str]) -> Screening | None:
        self.given.append(recent)
        return self.answer  # type: ignore[return-value]  # garbage, on purpose, in some tests


class Failing:
    name = "broken-model"
    version = "1"

    def classify(self, text: str, recent: Sequence[str]) -> Screening | None:
        raise RuntimeError(f"could not classify {text!r}")


class Hanging:
    """A classifier that answers only once the test lets it go."""

    name = "slow-model"
    version = "2"

    def __init__(self) -> None:
        self.started = threading.Event()
        self.release = threading.Event()

    def classify(self, text: str, recent: Sequence[str]) -> Screening | None:
        self.started.set()
        self.release.wait()
        return screening(Severity.CRITICAL)


class Rules:
    """A stand-in for the rule detector: a fixed answer, reading `recent` only if told to."""

    lexicon_version = "test 1"

    def __init__(self, answer: Screening | None, *, reads_recent: bool) -> None:
        self.answer = answer
        self.reads_recent = reads_recent

    def detect(self, text: str, *, recent: Sequence[str] = ()) -> Screening | None:
        if self.reads_recent:
            list(recent)
        return self.answer


@pytest.fixture
def screeners() -> Iterator[Callable[..., Screener]]:
    """Screeners on the shipped rules, closed (their threads joined) after the test."""
    made: list[Screener] = []

    def make(
        *classifiers: Classifier, timeout: float = PATIENT, rules: RuleDetector | None = None
    ) -> Screener:
        screener = Screener(rules or default_detector(), classifiers, timeout=timeout)
        made.append(screener)
        return screener

    yield make
    for screener in made:
        screener.close(wait=True)


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "convobase.safety" and r.levelname == "WARNING"]


def assert_text_not_logged(caplog: pytest.LogCaptureFixture, text: str) -> None:
    for record in caplog.records:
        assert record.exc_info is None
        assert text not in record.getMessage()
        assert all(text not in str(value) for value in vars(record).values())


def test_the_rules_alone_give_the_verdict(screeners: Callable[..., Screener]) -> None:
    screener = screeners()

    verdict = screener.screen("I'm going to kill myself tonight", lambda: ())

    assert verdict is not None
    assert verdict.screening.severity is Severity.CRITICAL
    assert verdict.source == "rules"
    assert verdict.detector_version == f"rules {LEXICON_VERSION}"
    assert screener.screen("see you tomorrow at the lesson", lambda: ()) is None


def test_a_classifier_cannot_lower_the_rules_severity(
    screeners: Callable[..., Screener],
) -> None:
    rules_only = screeners().screen("I'm going to kill myself tonight", lambda: ())
    lower, silent = Fixed(screening(Severity.LOW)), Fixed(None, name="quiet-model")
    screener = screeners(lower, silent)

    verdict = screener.screen("I'm going to kill myself tonight", lambda: ())

    assert rules_only is not None
    assert verdict == Verdict(
        screening=rules_only.screening,
        source="rules",
        detector_version=f"rules {LEXICON_VERSION}; acme-model 3; quiet-model 3",
    )


def test_on_equal_severity_the_rules_screening_wins(screeners: Callable[..., Screener]) -> None:
    model = Fixed(screening(Severity.MODERATE, Category.SELF_HARM))

    verdict = screeners(model).screen("I want to die", lambda: ())

    assert verdict is not None
    assert verdict.source == "rules"
    assert verdict.screening.category is Category.SUICIDE
    assert verdict.screening.lexicon_version == LEXICON_VERSION


def test_a_classifier_can_escalate_the_rules(screeners: Callable[..., Screener]) -> None:
    escalation = screening(Severity.CRITICAL)
    screener = screeners(Fixed(screening(Severity.HIGH), name="first"), Fixed(escalation))

    verdict = screener.screen("I want to die", lambda: ())

    assert verdict == Verdict(
        screening=escalation,
        source="acme-model",
        detector_version=f"rules {LEXICON_VERSION}; first 3; acme-model 3",
    )


def test_a_classifier_can_flag_what_the_rules_missed(screeners: Callable[..., Screener]) -> None:
    found = screening(Severity.LOW, Category.EATING_DISORDER)

    verdict = screeners(Fixed(found)).screen("see you tomorrow at the lesson", lambda: ())

    assert verdict is not None
    assert (verdict.screening, verdict.source) == (found, "acme-model")


def test_on_equal_severity_the_classifier_configured_first_wins(
    screeners: Callable[..., Screener],
) -> None:
    first = screening(Severity.HIGH, Category.SELF_HARM)
    screener = screeners(Fixed(first, name="first"), Fixed(screening(Severity.HIGH)))

    verdict = screener.screen("see you tomorrow at the lesson", lambda: ())

    assert verdict is not None
    assert (verdict.screening, verdict.source) == (first, "first")


def test_a_failing_classifier_does_not_block_the_message(
    screeners: Callable[..., Screener], caplog: pytest.LogCaptureFixture
) -> None:
    after = Fixed(None, name="after")
    screener = screeners(Failing(), after)

    with caplog.at_level(logging.WARNING, logger="convobase.safety"):
        verdict = screener.screen(SECRET, lambda: ())

    assert verdict is not None
    assert verdict.source == "rules"
    assert verdict.screening.severity is Severity.MODERATE
    # What failed did not run successfully; what came after it did.
    assert verdict.detector_version == f"rules {LEXICON_VERSION}; after 3"
    [warning] = warnings_of(caplog)
    assert "broken-model" in warning.getMessage()
    assert "RuntimeError" in warning.getMessage()
    assert (warning.classifier, warning.error) == ("broken-model", "RuntimeError")  # type: ignore[attr-defined]
    assert_text_not_logged(caplog, SECRET)
    assert_text_not_logged(caplog, "want to die")


def test_a_slow_classifier_is_skipped_after_its_timeout(
    screeners: Callable[..., Screener], caplog: pytest.LogCaptureFixture
) -> None:
    slow = Hanging()
    screener = screeners(slow, timeout=0.2)
    try:
        with caplog.at_level(logging.WARNING, logger="convobase.safety"):
            verdict = screener.screen(SECRET, lambda: ())
        assert slow.started.is_set()
    finally:
        slow.release.set()  # the abandoned call ends, and the fixture joins its thread

    assert verdict is not None
    assert (verdict.source, verdict.screening.severity) == ("rules", Severity.MODERATE)
    assert verdict.detector_version == f"rules {LEXICON_VERSION}"
    [warning] = warnings_of(caplog)
    assert "slow-model" in warning.getMessage()
    assert warning.error == "TimeoutError"  # type: ignore[attr-defined]
    assert_text_not_logged(caplog, SECRET)


@pytest.mark.parametrize(
    "garbage",
    [
        {"severity": "critical"},
        "critical",
        Severity.CRITICAL,
        replace(screening(Severity.LOW), severity=5),  # type: ignore[arg-type]
    ],
    ids=["dict", "str", "severity", "malformed-screening"],
)
def test_a_classifier_answering_garbage_is_skipped(
    garbage: object, screeners: Callable[..., Screener], caplog: pytest.LogCaptureFixture
) -> None:
    screener = screeners(Fixed(garbage))

    with caplog.at_level(logging.WARNING, logger="convobase.safety"):
        verdict = screener.screen(SECRET, lambda: ())

    assert verdict is not None
    assert (verdict.source, verdict.screening.severity) == ("rules", Severity.MODERATE)
    assert verdict.detector_version == f"rules {LEXICON_VERSION}"
    [warning] = warnings_of(caplog)
    assert "acme-model" in warning.getMessage()
    assert "not a Screening" in warning.getMessage()
    assert_text_not_logged(caplog, SECRET)


class Loader:
    def __init__(self, *messages: str) -> None:
        self.messages = messages
        self.calls = 0
        self.threads: set[int] = set()

    def __call__(self) -> Sequence[str]:
        self.calls += 1
        self.threads.add(threading.get_ident())
        return list(self.messages)


def classifier_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("crisis-classifier")]


def test_earlier_messages_are_loaded_once_and_only_when_needed(
    screeners: Callable[..., Screener],
) -> None:
    found = screening(Severity.LOW)
    threads_before = classifier_threads()

    # Neither the rules nor any other classifier needs them: not loaded, and no thread.
    quiet_rules = screeners(rules=Rules(found, reads_recent=False))
    loader = Loader("I want to die")
    assert quiet_rules.screen("hi", loader) == Verdict(found, "rules", "rules test 1")
    assert loader.calls == 0
    assert classifier_threads() == threads_before

    # The rules and two classifiers need them: loaded once, in the calling thread.
    first, second = Fixed(None, name="first"), Fixed(None, name="second")
    busy = screeners(first, second, rules=Rules(found, reads_recent=True))
    loader = Loader("hello", "I want to die")
    busy.screen("hi", loader)
    assert loader.calls == 1
    assert loader.threads == {threading.get_ident()}
    assert first.given == second.given == [("hello", "I want to die")]

    # Only the other classifier needs them: loaded once still.
    third = Fixed(None, name="third")
    loader = Loader("earlier")
    screeners(third, rules=Rules(None, reads_recent=False)).screen("hi", loader)
    assert (loader.calls, third.given) == (1, [("earlier",)])

    # The shipped rules read them through the same loader: "tonight" after a wish to die.
    loader = Loader("I want to die")
    verdict = screeners(Fixed(None)).screen("tonight", loader)
    assert verdict is not None
    assert verdict.screening.severity is Severity.CRITICAL
    assert loader.calls == 1


def test_the_rule_classifier_is_the_detector_as_a_classifier() -> None:
    rules = RuleClassifier(default_detector())
    loader = Loader("I want to die")

    assert isinstance(rules, Classifier)
    assert (rules.name, rules.version) == ("rules", LEXICON_VERSION)
    found = rules.classify("tonight", loader)
    assert found is not None
    assert found.severity is Severity.CRITICAL
    assert loader.calls == 1
    assert rules.classify("tonight", ["I want to die"]) == found
    assert rules.classify("tonight", []) is None


def test_the_detector_version_fits_200_characters_and_keeps_the_winner(
    screeners: Callable[..., Screener],
) -> None:
    crowd = [Fixed(None, name=f"model-{n}", version="1." + "0" * 30) for n in range(9)]
    winner = Fixed(screening(Severity.CRITICAL), name="the-winner", version="7")
    long_named = Fixed(None, name="x" * 300, version="1")

    verdict = screeners(*crowd, long_named, winner).screen("hi", lambda: ())

    assert verdict is not None
    version = verdict.detector_version
    assert len(version) <= DETECTOR_VERSION_LENGTH
    assert version.startswith(f"rules {LEXICON_VERSION}; model-0 1.0")
    assert version.endswith("; the-winner 7; +7 more")
    assert verdict.source == "the-winner"


def test_a_closed_screener_still_answers_with_the_rules(
    screeners: Callable[..., Screener], caplog: pytest.LogCaptureFixture
) -> None:
    screener = screeners(Fixed(screening(Severity.CRITICAL)))
    screener.close(wait=True)

    with caplog.at_level(logging.WARNING, logger="convobase.safety"):
        verdict = screener.screen("I want to die", lambda: ())

    assert verdict is not None
    assert (verdict.source, verdict.screening.severity) == ("rules", Severity.MODERATE)
    [warning] = warnings_of(caplog)
    assert "closed" in warning.getMessage()


def test_a_screener_refuses_names_it_could_not_tell_apart() -> None:
    detector = Rules(None, reads_recent=False)
    with pytest.raises(ValueError, match="'acme-model'"):
        Screener(detector, [Fixed(None), Fixed(None)])
    with pytest.raises(ValueError, match="'rules'"):
        Screener(detector, [Fixed(None, name="rules")])
    with pytest.raises(ValueError, match="timeout"):
        Screener(detector, [], timeout=0)


class Installed:
    name = "installed-model"
    version = "5"

    def classify(self, text: str, recent: Sequence[str]) -> Screening | None:
        return None


def installed_factory() -> Classifier:
    return Fixed(None, name="made-by-a-factory")


def not_a_classifier() -> object:
    return object()


@pytest.fixture
def installed(monkeypatch: pytest.MonkeyPatch) -> None:
    plug_ins = EntryPoints(
        [
            EntryPoint(name=name, value=f"{__name__}:{target}", group=CLASSIFIER_ENTRY_POINTS)
            for name, target in [
                ("acme", "Installed"),
                ("factory", "installed_factory"),
                ("odd", "not_a_classifier"),
            ]
        ]
    )
    groups = {CLASSIFIER_ENTRY_POINTS: plug_ins}
    monkeypatch.setattr(
        classifier_module, "entry_points", lambda group: groups.get(group, EntryPoints())
    )


@pytest.mark.usefixtures("installed")
def test_classifiers_are_loaded_from_the_entry_point_group_in_the_order_named() -> None:
    loaded = load_classifiers(["factory", "acme"])

    assert [type(c) for c in loaded] == [Fixed, Installed]
    assert [c.name for c in loaded] == ["made-by-a-factory", "installed-model"]
    assert load_classifiers([]) == []


@pytest.mark.usefixtures("installed")
def test_an_unknown_classifier_name_is_refused_with_the_installed_ones() -> None:
    with pytest.raises(ClassifierNotFound) as refused:
        load_classifiers(["acme", "no-such-model"])

    assert isinstance(refused.value, LookupError)
    assert refused.value.missing == ("no-such-model",)
    assert "'no-such-model'" in str(refused.value)
    assert "acme, factory, odd" in str(refused.value)


@pytest.mark.usefixtures("installed")
def test_an_entry_point_that_builds_no_classifier_is_refused() -> None:
    with pytest.raises(TypeError, match=r"'odd'.*not a Classifier"):
        load_classifiers(["odd"])


def test_with_no_classifier_installed_the_error_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(classifier_module, "entry_points", lambda group: EntryPoints())

    with pytest.raises(ClassifierNotFound, match="none is installed"):
        load_classifiers(["acme"])
