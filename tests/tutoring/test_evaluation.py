"""The shipped evaluator, without a database: normalisation, variants, the words
missing, extra and misspelled, target words, the score, and how evaluators load."""

import importlib.metadata
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from convobase import bootstrap
from convobase.app import create_app
from convobase.config import Settings
from convobase.tutoring import evaluation
from convobase.tutoring.evaluation import (
    BaselineEvaluator,
    Evaluation,
    Evaluator,
    EvaluatorNotFound,
    ExpectedLine,
    Misspelling,
    blank,
    hint,
    load_evaluator,
    normalise,
)
from tests.api import JWT_SECRET

LINE = ExpectedLine(
    "Buenos días. Un café con leche, por favor.",
    variants=("Un café con leche, por favor.",),
    target_words=("café", "leche", "por favor"),
    language="es",
)
evaluator = BaselineEvaluator()


@pytest.mark.parametrize(
    ("text", "normal"),
    [
        ("¡Un CAFÉ, por favor!", "un cafe por favor"),
        ("  Buenos   días…  ", "buenos dias"),
        ("\uff28\uff4f\uff4c\uff41", "hola"),  # full-width letters (NFKC)
        ("cafe\u0301", "cafe"),  # a decomposed accent
        ("l\u2019eau, don't", "leau dont"),  # typographic apostrophe
        ("Straße", "strasse"),  # casefold
        ("😀 ¿?", ""),
    ],
)
def test_text_is_normalised_for_case_accents_punctuation_and_unicode(
    text: str, normal: str
) -> None:
    assert normalise(text) == normal


def test_the_line_said_without_accents_case_or_punctuation_scores_100() -> None:
    result = evaluator.evaluate("buenos dias UN CAFE con leche por favor", LINE)

    assert result.score == 100
    assert (result.missing, result.extra, result.misspelled) == ((), (), ())
    assert result.target_words_used == ("café", "leche", "por favor")


def test_an_accepted_variant_scores_100_and_is_named() -> None:
    result = evaluator.evaluate("Un café con leche, por favor", LINE)

    assert result.score == 100
    assert result.matched == "Un café con leche, por favor."


def test_missing_words_are_named_as_the_line_writes_them() -> None:
    result = evaluator.evaluate("Un café con leche.", LINE)

    assert result.missing == ("por", "favor")
    assert result.target_words_missed == ("por favor",)
    assert 60 < result.score < 80


def test_a_misspelled_word_is_told_from_a_wrong_one() -> None:
    result = evaluator.evaluate("Buenos días, un cafe con lece por favor", LINE)

    assert result.misspelled == (Misspelling("leche", "lece"),)
    assert result.missing == result.extra == ()
    assert "leche" in result.target_words_used  # said, if misspelled
    assert result.score >= 90


def test_a_word_replaced_by_another_is_missing_and_extra() -> None:
    result = evaluator.evaluate("Buenos días, un té con leche, por favor, gracias", LINE)

    assert result.missing == ("café",)
    assert result.extra == ("té", "gracias")
    assert result.target_words_missed == ("café",)


def test_something_else_entirely_scores_low() -> None:
    result = evaluator.evaluate("Quiero una cerveza", LINE)

    assert result.score < 40
    assert result.extra == ("Quiero", "una", "cerveza")


def test_only_punctuation_scores_zero() -> None:
    assert evaluator.evaluate("¿?", LINE).score == 0


def test_the_same_turn_always_gets_the_same_evaluation() -> None:
    said = "Buenos dias, un cafe con lece por favor"

    assert len({evaluator.evaluate(said, LINE) for _ in range(5)}) == 1


def test_a_forty_word_line_evaluates_quickly() -> None:
    line = ExpectedLine(" ".join(f"palabra{n}" for n in range(40)))
    said = line.text.replace("palabra3 ", "palabr3 ").replace("palabra10 ", "")

    result = evaluator.evaluate(said, line)

    assert result.missing == ("palabra10",)
    assert result.misspelled == (Misspelling("palabra3", "palabr3"),)


def test_the_hint_keeps_first_letters_and_punctuation() -> None:
    assert hint("¡Hola! Un café, por favor.") == "¡H___! U_ c___, p__ f____."


def test_a_blank_replaces_a_word_or_phrase_once() -> None:
    assert blank("Un café con café.", "cafe") == "Un ____ con café."
    assert blank("Un café, por favor.", "Por favor") == "Un café, ____."
    assert blank("Un café.", "té") == "Un café."


def test_the_baseline_loads_by_name_and_is_an_evaluator() -> None:
    loaded = load_evaluator("baseline")

    assert isinstance(loaded, Evaluator)
    assert (loaded.name, loaded.version) == ("baseline", "1")


class _Echo:
    name = "echo"
    version = "0.1"

    def evaluate(self, said: str, line: ExpectedLine) -> Evaluation:
        return Evaluation(score=42, matched=line.text, similarity=42.0)


class _EntryPoint:
    def __init__(self, name: str, target: object) -> None:
        self.name = name
        self._target = target

    def load(self) -> object:
        return self._target


class _EntryPoints(list[_EntryPoint]):
    @property
    def names(self) -> set[str]:
        return {point.name for point in self}

    def __getitem__(self, name: object) -> _EntryPoint:  # type: ignore[override]
        return next(point for point in self if point.name == name)


@pytest.fixture
def installed(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """An app's evaluators, as its package would install them."""
    points = _EntryPoints([_EntryPoint("echo", _Echo), _EntryPoint("broken", object)])

    def entry_points(*, group: str) -> _EntryPoints:
        assert group == "convobase.evaluators"
        return points

    monkeypatch.setattr(evaluation, "entry_points", entry_points)
    evaluation._load.cache_clear()
    yield
    evaluation._load.cache_clear()


@pytest.mark.usefixtures("installed")
def test_an_app_plugs_in_its_evaluator_through_an_entry_point() -> None:
    loaded = load_evaluator("echo")

    assert loaded.evaluate("hola", LINE).score == 42


@pytest.mark.usefixtures("installed")
def test_an_unknown_evaluator_names_those_installed() -> None:
    with pytest.raises(EvaluatorNotFound, match="installed are baseline, broken, echo"):
        load_evaluator("nope")


@pytest.mark.usefixtures("installed")
def test_an_entry_point_that_builds_no_evaluator_is_refused() -> None:
    with pytest.raises(TypeError, match="not an Evaluator"):
        load_evaluator("broken")


def test_no_evaluator_is_installed_by_default() -> None:
    assert not importlib.metadata.entry_points(group="convobase.evaluators")


def test_a_misnamed_evaluator_stops_the_service_at_start_up(tmp_path: Path) -> None:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'unused.db'}",
        jwt_secret=SecretStr(JWT_SECRET),
        tutoring_evaluator="no-such-evaluator",
    )
    container = bootstrap.build(settings)
    try:
        with pytest.raises(EvaluatorNotFound, match="no evaluator 'no-such-evaluator'"):
            create_app(container)
    finally:
        container.close()
