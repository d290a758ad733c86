"""Assessment questions: the published formats, precise errors for what they cannot
say, what learners see, answers checked as they are saved, and grading (no database)."""

import copy
import json
from decimal import Decimal
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from convobase.learning.questions import (
    DEFAULT_SCORING,
    MAX_ACCEPTED_ANSWERS,
    MAX_ACCEPTED_LENGTH,
    MAX_ANSWER_LENGTH,
    MAX_ERRORS,
    MAX_EXPLANATION_LENGTH,
    MAX_ID_LENGTH,
    MAX_KEPT_ACCENTS,
    MAX_NUMBER,
    MAX_OPTION_TEXT_LENGTH,
    MAX_OPTIONS,
    MAX_POINTS,
    MAX_PROMPT_LENGTH,
    MAX_QUESTIONS,
    MAX_TYPOS,
    MAX_UNIT_LENGTH,
    MIN_OPTIONS,
    MIN_ORDERING_ITEMS,
    QUESTIONS_SCHEMA,
    SCORING_SCHEMA,
    DocumentError,
    GradeMethod,
    InvalidAnswer,
    InvalidAssessment,
    InvalidQuestions,
    InvalidScoring,
    Outcome,
    Question,
    QuestionKind,
    ScoringConfig,
    check_answer,
    combine,
    grade,
    learner_view,
    learner_views,
    passed,
    validate_assessment,
    validate_questions,
    validate_scoring,
)

HERE = Path(__file__).parent
EXAMPLES = ["poker_assessment.json", "spanish_vocabulary_assessment.json"]


def example(name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((HERE / name).read_text("utf-8"))
    return document


def options(*ids: str) -> list[dict[str, str]]:
    return [{"id": option_id, "text": f"Option {option_id}"} for option_id in ids]


def single(**extra: Any) -> dict[str, Any]:
    return {
        "id": "q1",
        "kind": "single_choice",
        "prompt": "Which one?",
        "choices": options("a", "b", "c"),
        "correct": "b",
        **extra,
    }


def multiple(**extra: Any) -> dict[str, Any]:
    return {
        "id": "q1",
        "kind": "multiple_choice",
        "prompt": "Which ones?",
        "choices": options("a", "b", "c", "d", "e"),
        "correct": ["a", "b", "c"],
        **extra,
    }


def numeric(**extra: Any) -> dict[str, Any]:
    return {
        "id": "q1",
        "kind": "numeric",
        "prompt": "How much?",
        "correct": 0.3,
        "tolerance": 0.1,
        **extra,
    }


def short(*accepted: str, max_typos: int = 0, **normalize: Any) -> dict[str, Any]:
    question: dict[str, Any] = {
        "id": "q1",
        "kind": "short_text",
        "prompt": "Translate",
        "accepted": list(accepted),
        "max_typos": max_typos,
    }
    if normalize:
        question["normalize"] = normalize
    return question


def ordering(**extra: Any) -> dict[str, Any]:
    return {
        "id": "q1",
        "kind": "ordering",
        "prompt": "Put in order",
        "items": options("c", "a", "d", "b", "e"),
        "correct_order": ["a", "b", "c", "d", "e"],
        **extra,
    }


def matching(**extra: Any) -> dict[str, Any]:
    return {
        "id": "q1",
        "kind": "matching",
        "prompt": "Match",
        "left": options("l1", "l2", "l3", "l4"),
        "right": options("r1", "r2", "r3", "r4", "r5"),
        "pairs": {"l1": "r1", "l2": "r2", "l3": "r3", "l4": "r4"},
        **extra,
    }


def true_false(**extra: Any) -> dict[str, Any]:
    return {"id": "q1", "kind": "true_false", "prompt": "True?", "correct": True, **extra}


def one(document: dict[str, Any]) -> Question:
    return validate_questions([document])[0]


def errors_of(document: object) -> list[DocumentError]:
    with pytest.raises(InvalidQuestions) as raised:
        validate_questions(document)
    return list(raised.value.errors)


def score_of(
    document: dict[str, Any], answer: object, scoring: ScoringConfig = DEFAULT_SCORING
) -> Decimal:
    question = one(document)
    return grade([question], scoring, {question.id: answer}).score


# --- the published formats -----------------------------------------------------------------


def test_both_published_schemas_are_valid_draft_2020_12_schemas() -> None:
    for name in ("questions.schema.json", "scoring_config.schema.json"):
        schema = json.loads((files("convobase.learning") / name).read_text("utf-8"))
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        Draft202012Validator.check_schema(schema)
    assert QUESTIONS_SCHEMA["$id"].endswith("assessment-questions.schema.json")
    assert SCORING_SCHEMA["$id"].endswith("assessment-scoring-config.schema.json")


def test_the_published_schema_states_the_same_bounds_as_the_module() -> None:
    defs = QUESTIONS_SCHEMA["$defs"]
    assert QUESTIONS_SCHEMA["maxItems"] == MAX_QUESTIONS
    assert defs["id"]["pattern"].endswith(f"{{0,{MAX_ID_LENGTH - 1}}}$")
    assert defs["prompt"]["maxLength"] == MAX_PROMPT_LENGTH
    assert defs["explanation"]["maxLength"] == MAX_EXPLANATION_LENGTH
    assert defs["option"]["properties"]["text"]["maxLength"] == MAX_OPTION_TEXT_LENGTH
    assert defs["options"]["maxItems"] == MAX_OPTIONS
    assert defs["ordering"]["properties"]["items"]["minItems"] == MIN_ORDERING_ITEMS
    assert defs["short_text"]["properties"]["max_typos"]["maximum"] == MAX_TYPOS
    assert defs["number"]["maximum"] == MAX_NUMBER
    assert defs["options"]["minItems"] == MIN_OPTIONS
    assert defs["points"]["maximum"] == MAX_POINTS
    accepted = defs["short_text"]["properties"]["accepted"]
    assert (accepted["maxItems"], accepted["items"]["maxLength"]) == (
        MAX_ACCEPTED_ANSWERS,
        MAX_ACCEPTED_LENGTH,
    )
    assert defs["numeric"]["properties"]["unit"]["maxLength"] == MAX_UNIT_LENGTH
    assert defs["normalize"]["properties"]["fold_accents_except"]["maxLength"] == MAX_KEPT_ACCENTS
    assert SCORING_SCHEMA["properties"]["weights"]["additionalProperties"]["maximum"] == MAX_POINTS
    assert (
        SCORING_SCHEMA["properties"]["weights"]["propertyNames"]["pattern"] == defs["id"]["pattern"]
    )


@pytest.mark.parametrize("name", EXAMPLES)
def test_the_example_assessments_match_the_published_schemas_and_every_rule(name: str) -> None:
    document = example(name)

    assert list(Draft202012Validator(QUESTIONS_SCHEMA).iter_errors(document["questions"])) == []
    assert list(Draft202012Validator(SCORING_SCHEMA).iter_errors(document["scoring_config"])) == []
    questions, scoring = validate_assessment(document["questions"], document["scoring_config"])
    assert len(questions) == len(document["questions"])
    assert {question.kind for question in questions} >= {
        QuestionKind.SINGLE_CHOICE,
        QuestionKind.TRUE_FALSE,
        QuestionKind.SHORT_TEXT,
        QuestionKind.MATCHING,
    }
    assert scoring.grade_method in GradeMethod


def test_validate_questions_gives_typed_frozen_values() -> None:
    question = one(single(points=2.5, explanation="Because."))

    assert question.kind is QuestionKind.SINGLE_CHOICE
    assert question.points == Decimal("2.5")
    assert question.explanation == "Because."
    with pytest.raises(AttributeError):
        question.prompt = "changed"  # type: ignore[misc]


# --- what the format refuses, and where ----------------------------------------------------


@pytest.mark.parametrize(
    ("document", "path", "message"),
    [
        ([], "/questions", "at least 1 entry"),
        ({"questions": []}, "/questions", "must be an array"),
        ([true_false(id=f"q{n}") for n in range(MAX_QUESTIONS + 1)], "/questions", "at most 200"),
        ([single(kind="essay")], "/questions/0/kind", "must be one of single_choice"),
        ([single(hint="psst")], "/questions/0/hint", "is not allowed here"),
        (
            [{"id": "q1", "kind": "true_false", "correct": True}],
            "/questions/0/prompt",
            "is required",
        ),
        ([single(prompt="   ")], "/questions/0/prompt", "must not be blank"),
        ([single(prompt="x" * (MAX_PROMPT_LENGTH + 1))], "/questions/0/prompt", "at most 4000"),
        ([single(id="Question 1")], "/questions/0/id", "short slug"),
        ([single(id="q" * (MAX_ID_LENGTH + 1))], "/questions/0/id", "short slug"),
        ([single(choices=options("a"))], "/questions/0/choices", "at least 2 entries"),
        ([single(correct=1)], "/questions/0/correct", "must be a string"),
        ([true_false(correct="yes")], "/questions/0/correct", "must be true or false"),
        ([numeric(tolerance=-0.5)], "/questions/0/tolerance", "at least 0"),
        ([numeric(correct=1e16)], "/questions/0/correct", "at most"),
        ([numeric(points=0)], "/questions/0/points", "greater than 0"),
        ([multiple(correct=["a", "a"])], "/questions/0/correct", 'must not repeat "a"'),
        ([short("hola", max_typos=4)], "/questions/0/max_typos", "at most 3"),
        ([short("hola", whitespace="squeeze")], "/questions/0/normalize/whitespace", "one of"),
        (
            [ordering(items=options("a", "b"), correct_order=["a", "b"])],
            "/questions/0/items",
            "at least 3",
        ),
        ([matching(pairs={"L1": "r1"})], "/questions/0/pairs/L1", "is not a valid key"),
    ],
)
def test_a_question_the_schema_refuses_is_reported_at_its_place(
    document: object, path: str, message: str
) -> None:
    errors = errors_of(document)

    assert any(error.path == path and message in error.message for error in errors), errors


@pytest.mark.parametrize(
    ("document", "path", "message"),
    [
        (single(correct="z"), "/questions/0/correct", '"z" is not the id of a choice (a, b, c)'),
        (
            single(choices=[*options("a", "b"), {"id": "a", "text": "Other"}]),
            "/questions/0/choices/2/id",
            '"a" is already the id of choice 0',
        ),
        (
            single(choices=[*options("a", "b"), {"id": "c", "text": "Option a"}]),
            "/questions/0/choices/2/text",
            "the same as the text of choice 0",
        ),
        (multiple(correct=["a", "z"]), "/questions/0/correct/1", '"z" is not the id of a choice'),
        (
            ordering(correct_order=["a", "b", "c", "d", "x"]),
            "/questions/0/correct_order/4",
            '"x" is not the id of an item',
        ),
        (
            ordering(correct_order=["a", "b", "c"]),
            "/questions/0/correct_order",
            "misses the items d, e",
        ),
        (
            matching(pairs={"l1": "r1", "l2": "r2", "l3": "r3"}),
            "/questions/0/pairs",
            "misses the left items l4",
        ),
        (
            matching(pairs={"l1": "r1", "l2": "r1", "l3": "r3", "l4": "r4"}),
            "/questions/0/pairs/l2",
            '"r1" is already paired with "l1"',
        ),
        (
            matching(pairs={"l1": "r1", "l2": "r2", "l3": "r3", "l4": "r4", "l9": "r5"}),
            "/questions/0/pairs/l9",
            'the key "l9" is not the id of a left item',
        ),
        (
            matching(pairs={"l1": "r1", "l2": "r2", "l3": "r3", "l4": "r9"}),
            "/questions/0/pairs/l4",
            '"r9" is not the id of a right item',
        ),
        (numeric(correct=float("nan")), "/questions/0/correct", "must be a finite number"),
        (numeric(points=1.125), "/questions/0/points", "at most 2 decimals"),
        (
            short("¿?", ignore_punctuation=True),
            "/questions/0/accepted/0",
            "is empty once normalised",
        ),
        (
            short("año", fold_accents_except="ñ"),
            "/questions/0/normalize/fold_accents_except",
            "no effect unless fold_accents",
        ),
        (
            short("año", fold_accents=True, fold_accents_except="ñ~"),
            "/questions/0/normalize/fold_accents_except",
            "only letters",
        ),
        (single(prompt="Which\x00one?"), "/questions/0/prompt", "NUL"),
        (single(explanation="\ud800"), "/questions/0/explanation", "lone surrogates"),
    ],
)
def test_a_rule_the_schema_cannot_express_is_reported_at_its_place(
    document: dict[str, Any], path: str, message: str
) -> None:
    errors = errors_of([document])

    assert any(error.path == path and message in error.message for error in errors), errors


def test_question_ids_must_be_unique_within_the_assessment() -> None:
    errors = errors_of([single(), true_false(id="q2"), true_false(id="q1")])

    assert errors == [DocumentError("/questions/2/id", '"q1" is already the id of question 0')]


def test_every_error_is_reported_at_once_in_document_order() -> None:
    document = [
        single(id="q1", correct="z"),
        true_false(id="q2", correct="yes"),
        single(id="q3", prompt=""),
        ordering(id="q10", correct_order=["a", "b", "c", "d"]),
    ]

    with pytest.raises(InvalidAssessment) as raised:
        validate_questions(document)

    assert [error.path for error in raised.value.errors] == [
        "/questions/0/correct",
        "/questions/1/correct",
        "/questions/2/prompt",
        "/questions/3/correct_order",
    ]
    assert "/questions/0/correct:" in str(raised.value)


def test_a_document_with_very_many_errors_stops_at_the_limit_without_failing() -> None:
    document = [{"id": f"q{n}", "kind": "true_false", "correct": "yes"} for n in range(150)]

    errors = errors_of(document)

    assert len(errors) == MAX_ERRORS
    assert errors[0] == DocumentError("/questions", "has more than 50 errors; the first are shown")


def test_errors_can_be_placed_under_another_path() -> None:
    with pytest.raises(InvalidQuestions) as raised:
        validate_questions([single(correct="z")], at="/assessments/2/questions")

    assert raised.value.errors[0].path == "/assessments/2/questions/0/correct"


# --- the scoring config --------------------------------------------------------------------


def test_an_empty_scoring_config_takes_every_default() -> None:
    questions = validate_questions([single(), multiple(id="q2", points=3)])

    scoring = validate_scoring({}, questions)

    assert scoring == DEFAULT_SCORING
    assert scoring.grade_method is GradeMethod.HIGHEST
    assert scoring.show_explanations_after_submit is False
    assert [scoring.weight_of(question) for question in questions] == [Decimal(1), Decimal(3)]
    assert scoring.partial_credit_for(QuestionKind.MULTIPLE_CHOICE)
    assert not scoring.partial_credit_for(QuestionKind.SINGLE_CHOICE)


def test_a_weight_overrides_the_points_of_its_question() -> None:
    questions = validate_questions([single(points=3), true_false(id="q2")])

    scoring = validate_scoring({"weights": {"q1": 0.5}}, questions)

    assert [scoring.weight_of(question) for question in questions] == [Decimal("0.5"), Decimal(1)]


def test_partial_credit_by_kind_overrides_the_global_switch() -> None:
    scoring = validate_scoring(
        {"partial_credit": False, "partial_credit_by_kind": {"ordering": True}},
        validate_questions([ordering()]),
    )

    assert scoring.partial_credit_for(QuestionKind.ORDERING)
    assert not scoring.partial_credit_for(QuestionKind.MATCHING)
    assert not scoring.partial_credit_for(QuestionKind.MULTIPLE_CHOICE)


@pytest.mark.parametrize(
    ("document", "path", "message"),
    [
        ({"weights": {"q9": 2}}, "/scoring_config/weights/q9", 'no question has the id "q9"'),
        ({"weights": {"q1": 0}}, "/scoring_config/weights/q1", "greater than 0"),
        ({"weights": {"q1": 1.005}}, "/scoring_config/weights/q1", "at most 2 decimals"),
        ({"weights": {"q1": float("nan")}}, "/scoring_config/weights/q1", "finite"),
        (
            {"grade_method": "median"},
            "/scoring_config/grade_method",
            "highest, average, first, last",
        ),
        (
            {"partial_credit_by_kind": {"single_choice": True}},
            "/scoring_config/partial_credit_by_kind/single_choice",
            "not allowed",
        ),
        ({"negative_marking": True}, "/scoring_config/negative_marking", "not allowed"),
        ([], "/scoring_config", "must be an object"),
    ],
)
def test_a_scoring_config_that_cannot_be_used_is_reported_at_its_place(
    document: object, path: str, message: str
) -> None:
    with pytest.raises(InvalidScoring) as raised:
        validate_scoring(document, validate_questions([single()]))

    assert any(e.path == path and message in e.message for e in raised.value.errors), raised.value


def test_weights_are_not_blamed_when_the_questions_cannot_be_read() -> None:
    with pytest.raises(InvalidAssessment) as raised:
        validate_assessment({"not": "a list"}, {"weights": {"q1": 2}})

    assert raised.value.errors == (DocumentError("/questions", "must be an array"),)


def test_validate_assessment_reports_both_documents_errors_together() -> None:
    with pytest.raises(InvalidAssessment) as raised:
        validate_assessment([single(correct="z")], {"weights": {"q1": 2, "ghost": 1}})

    assert [error.path for error in raised.value.errors] == [
        "/questions/0/correct",
        "/scoring_config/weights/ghost",
    ]


# --- what learners see ---------------------------------------------------------------------

HIDDEN_KEYS = {
    "correct",
    "accepted",
    "tolerance",
    "correct_order",
    "pairs",
    "explanation",
    "normalize",
    "max_typos",
    "shuffle_choices",
    "weights",
    "partial_credit",
}


@pytest.mark.parametrize("name", EXAMPLES)
def test_the_learner_view_of_the_examples_holds_no_answer_key_or_explanation(name: str) -> None:
    document = example(name)
    questions, scoring = validate_assessment(document["questions"], document["scoring_config"])

    views = learner_views(questions, seed="attempt-1", scoring=scoring)

    shown = json.dumps(views, ensure_ascii=False)
    for view, raw in zip(views, document["questions"], strict=True):
        assert not HIDDEN_KEYS & set(view)
        if "explanation" in raw:
            assert raw["explanation"] not in shown
        for accepted in raw.get("accepted", []):
            assert json.dumps(accepted, ensure_ascii=False) not in shown


def test_the_learner_view_shows_the_prompt_points_and_choices_as_written() -> None:
    question = one(single(points=2))

    assert learner_view(question, seed="s") == {
        "id": "q1",
        "kind": "single_choice",
        "prompt": "Which one?",
        "points": 2,
        "choices": options("a", "b", "c"),
    }


def test_the_learner_view_shows_the_weight_of_the_scoring_config_as_points() -> None:
    question = one(single(points=2))
    scoring = ScoringConfig(weights={"q1": Decimal("1.5")})

    assert learner_view(question, seed="s", scoring=scoring)["points"] == 1.5


def test_a_numeric_question_shows_its_unit_but_not_its_tolerance() -> None:
    view = learner_view(one(numeric(unit="%")), seed="s")

    assert view["unit"] == "%"
    assert not HIDDEN_KEYS & set(view)


def test_choices_are_shuffled_only_when_the_question_asks_and_stay_put_for_one_seed() -> None:
    shuffled = one(multiple(shuffle_choices=True))
    seeds = [f"attempt-{n}" for n in range(20)]

    orders = {
        tuple(c["id"] for c in learner_view(shuffled, seed=seed)["choices"]) for seed in seeds
    }
    as_written = one(multiple())

    assert len(orders) > 1
    assert learner_view(shuffled, seed="attempt-1") == learner_view(shuffled, seed="attempt-1")
    assert all(
        [c["id"] for c in learner_view(as_written, seed=seed)["choices"]]
        == ["a", "b", "c", "d", "e"]
        for seed in seeds
    )


def test_items_to_order_are_never_shown_in_the_right_order() -> None:
    question = one(ordering(items=options("a", "b", "c"), correct_order=["a", "b", "c"]))

    shown = [
        [item["id"] for item in learner_view(question, seed=str(seed))["items"]]
        for seed in range(200)
    ]

    assert ["a", "b", "c"] not in shown
    assert len({tuple(order) for order in shown}) == 5


def test_the_right_side_of_a_matching_question_is_shuffled_by_the_seed() -> None:
    question = one(matching())

    first = learner_view(question, seed="attempt-1")
    orders = {
        tuple(r["id"] for r in learner_view(question, seed=str(n))["right"]) for n in range(20)
    }

    assert [item["id"] for item in first["left"]] == ["l1", "l2", "l3", "l4"]
    assert first == learner_view(question, seed="attempt-1")
    assert len(orders) > 1


# --- checking an answer as it is saved -----------------------------------------------------


@pytest.mark.parametrize(
    ("document", "answer", "path", "message"),
    [
        (single(), "z", "", '"z" is not the id of a choice (a, b, c)'),
        (single(), ["a"], "", "must be a string"),
        (multiple(), "a", "", "must be an array of choice ids"),
        (multiple(), ["a", "x"], "/1", '"x" is not the id of a choice'),
        (multiple(), ["a", "b", "a"], "/2", '"a" is given twice'),
        (multiple(), ["a"] * 6, "", "has 6 entries; there are 5 choices"),
        (true_false(), 1, "", "must be true or false"),
        (true_false(), "true", "", "must be true or false"),
        (numeric(), True, "", "must be a number"),
        (numeric(), "0.3", "", "must be a number"),
        (numeric(), float("nan"), "", "must be a finite number"),
        (numeric(), float("inf"), "", "must be a finite number"),
        (numeric(), 10**16, "", "must be between"),
        (short("hola"), 5, "", "must be a string"),
        (short("hola"), "a" * (MAX_ANSWER_LENGTH + 1), "", "at most 500 characters"),
        (short("hola"), "ho\x00la", "", "NUL"),
        (ordering(), ["a", "b", "c", "d"], "", "misses e"),
        (ordering(), ["a", "b", "c", "d", "d"], "/4", '"d" is given twice'),
        (ordering(), ["a", "b", "c", "d", "z"], "/4", '"z" is not the id of an item'),
        (matching(), [["l1", "r1"]], "", "must be an object"),
        (matching(), {"l9": "r1"}, "/l9", '"l9" is not one of the left items'),
        (matching(), {"l1": "r9"}, "/l1", '"r9" is not the id of a right item'),
        (matching(), {"l1": "r1", "l2": "r1"}, "/l2", '"r1" is already matched with l1'),
        (matching(), {"l1": 3}, "/l1", "must be a string: the id of a right item"),
        (ordering(), ["a", 2, "c", "d", "e"], "/1", "must be a string: the id of an item"),
    ],
)
def test_an_answer_that_does_not_fit_its_question_is_refused_at_its_place(
    document: dict[str, Any], answer: object, path: str, message: str
) -> None:
    with pytest.raises(InvalidAnswer) as raised:
        check_answer(one(document), answer)

    assert raised.value.path == path
    assert message in raised.value.message


def test_check_answer_gives_answers_back_in_a_canonical_form() -> None:
    assert check_answer(one(multiple()), ["c", "a"]) == ["a", "c"]
    assert check_answer(one(multiple()), []) == []
    assert check_answer(one(matching()), {"l3": "r3", "l1": "r2"}) == {"l1": "r2", "l3": "r3"}
    assert check_answer(one(numeric()), -0.0) == 0.0
    assert check_answer(one(numeric()), 7) == 7
    assert check_answer(one(short("hola")), "  Hola ") == "  Hola "


# --- grading -------------------------------------------------------------------------------


def test_a_single_choice_earns_all_for_the_right_choice_and_nothing_else() -> None:
    assert score_of(single(), "b") == Decimal("100.00")
    assert score_of(single(), "a") == Decimal("0.00")


def test_a_true_false_question_earns_all_or_nothing() -> None:
    assert score_of(true_false(correct=False), False) == 100
    assert score_of(true_false(correct=False), True) == 0


@pytest.mark.parametrize(
    ("picked", "score"),
    [
        (["a", "b", "c"], "100.00"),
        (["a", "b"], "66.66"),
        (["a", "b", "c", "d"], "50.00"),
        (["a", "d"], "0.00"),
        (["a", "b", "c", "d", "e"], "0.00"),
        ([], "0.00"),
    ],
)
def test_a_multiple_choice_earns_its_right_picks_share_less_its_wrong_picks_share(
    picked: list[str], score: str
) -> None:
    assert score_of(multiple(), picked) == Decimal(score)


def test_a_multiple_choice_earns_all_or_nothing_when_its_kind_has_no_partial_credit() -> None:
    scoring = ScoringConfig(partial_credit_by_kind={QuestionKind.MULTIPLE_CHOICE: False})

    assert score_of(multiple(), ["a", "b"], scoring) == 0
    assert score_of(multiple(), ["a", "b", "c"], scoring) == 100


def test_a_number_within_tolerance_is_right_compared_as_written_in_decimal() -> None:
    assert score_of(numeric(correct=0.3, tolerance=0.1), 0.4) == 100
    assert score_of(numeric(correct=0.3, tolerance=0.1), 0.2) == 100
    assert score_of(numeric(correct=0.3, tolerance=0.1), 0.41) == 0
    assert score_of(numeric(correct=25, tolerance=0), 25.0) == 100
    assert score_of(numeric(correct=25, tolerance=0), 25.01) == 0


def test_short_text_ignores_case_and_surrounding_and_inner_whitespace_by_default() -> None:
    assert score_of(short("el perro"), "  El   PERRO ") == 100


def test_short_text_respects_case_and_whitespace_when_told_to() -> None:
    assert score_of(short("Paris", ignore_case=False), "paris") == 0
    assert score_of(short("el perro", whitespace="trim"), "el  perro") == 0
    assert score_of(short("A K", whitespace="remove"), "ak") == 100


def test_short_text_accepts_answer_without_accents_when_folding() -> None:
    assert score_of(short("canción", fold_accents=True), "cancion") == 100
    assert score_of(short("cancion", fold_accents=True), "CANCIÓN") == 100


def test_short_text_counts_accents_when_not_folding() -> None:
    assert score_of(short("canción"), "cancion") == 0


def test_short_text_treats_composed_and_decomposed_accents_alike() -> None:
    assert score_of(short("canci\u00f3n"), "cancio\u0301n") == 100


def test_short_text_keeps_the_tilde_of_n_when_folding_all_other_accents() -> None:
    question = short("el año", fold_accents=True, fold_accents_except="ñ")

    assert score_of(question, "el ano") == 0
    assert score_of(question, "EL AÑO") == 100
    assert score_of(short("el añó", fold_accents=True, fold_accents_except="ñ"), "el año") == 100


def test_short_text_ignores_punctuation_when_told_to() -> None:
    question = short("¿Qué tal?", fold_accents=True, ignore_punctuation=True)

    assert score_of(question, "que tal") == 100
    assert score_of(short("¿Qué tal?", fold_accents=True), "que tal") == 0


def test_short_text_folds_compatibility_forms_with_nfkc() -> None:
    assert score_of(short("flop"), "\uff46\uff4c\uff4f\uff50") == 100
    assert score_of(short("flop", nfkc=False), "\uff46\uff4c\uff4f\uff50") == 0


def test_short_text_forgives_one_typo_per_four_characters_up_to_max_typos() -> None:
    truck = short("camión", max_typos=1, fold_accents=True)

    assert score_of(truck, "camoin") == 100
    assert score_of(truck, "camon") == 100
    assert score_of(truck, "cmaoin") == 0
    assert score_of(short("gato", max_typos=3), "pato") == 100
    assert score_of(short("gato", max_typos=3), "paso") == 0
    assert score_of(short("sol", max_typos=1), "sal") == 0
    assert score_of(short("murcielago", max_typos=2), "murcelagoo") == 100


def test_short_text_never_accepts_an_empty_answer() -> None:
    assert score_of(short("a", ignore_punctuation=True), "?") == 0


@pytest.mark.parametrize(
    ("order", "score"),
    [
        (["a", "b", "c", "d", "e"], "100.00"),
        (["b", "a", "c", "d", "e"], "75.00"),
        (["e", "a", "b", "c", "d"], "75.00"),
        (["b", "c", "d", "e", "a"], "75.00"),
        (["e", "b", "c", "d", "a"], "50.00"),
        (["e", "d", "c", "b", "a"], "0.00"),
    ],
)
def test_an_ordering_earns_the_share_of_items_already_in_order_beyond_the_first(
    order: list[str], score: str
) -> None:
    assert score_of(ordering(), order) == Decimal(score)


def test_a_matching_question_earns_a_share_per_right_pair() -> None:
    assert score_of(matching(), {"l1": "r1", "l2": "r2", "l3": "r3", "l4": "r4"}) == 100
    assert score_of(matching(), {"l1": "r1", "l2": "r2", "l3": "r5"}) == 50
    assert score_of(matching(), {}) == 0


def test_partial_credit_off_makes_every_kind_all_or_nothing() -> None:
    scoring = ScoringConfig(partial_credit=False)

    assert score_of(ordering(), ["b", "a", "c", "d", "e"], scoring) == 0
    assert score_of(matching(), {"l1": "r1", "l2": "r2", "l3": "r3"}, scoring) == 0


def test_unanswered_and_partly_right_questions_are_wrong_for_review() -> None:
    questions = validate_questions([single(), ordering(id="q2"), true_false(id="q3")])

    result = grade(
        questions, DEFAULT_SCORING, {"q1": "b", "q2": ["b", "a", "c", "d", "e"], "q3": None}
    )

    assert [r.outcome for r in result.results] == [
        Outcome.CORRECT,
        Outcome.PARTIAL,
        Outcome.UNANSWERED,
    ]
    assert result.wrong == ("q2", "q3")
    assert result.score == Decimal("58.33")
    assert (result.earned, result.possible) == (Decimal("1.75"), Decimal("3.00"))


def test_weights_set_each_questions_share_of_the_score() -> None:
    questions = validate_questions([single(points=3), true_false(id="q2")])

    by_points = grade(questions, DEFAULT_SCORING, {"q1": "b"})
    by_weights = grade(questions, ScoringConfig(weights={"q1": Decimal(1)}), {"q1": "b"})

    assert by_points.score == Decimal("75.00")
    assert by_weights.score == Decimal("50.00")
    assert by_points.results[0].possible == Decimal("3.00")


def test_the_score_is_rounded_down_so_that_only_all_right_makes_100() -> None:
    questions = validate_questions([true_false(id=f"q{n}") for n in range(MAX_QUESTIONS)])
    answers: dict[str, object] = {f"q{n}": True for n in range(MAX_QUESTIONS - 1)}

    assert grade(questions, DEFAULT_SCORING, answers).score == Decimal("99.50")
    assert grade(
        validate_questions([true_false(), true_false(id="q2", points=1000)]),
        DEFAULT_SCORING,
        {"q2": True},
    ).score == Decimal("99.90")


def test_a_saved_answer_that_no_longer_fits_its_question_is_graded_incorrect() -> None:
    questions = validate_questions([single()])

    result = grade(questions, DEFAULT_SCORING, {"q1": "removed-choice", "gone": "a"})

    assert result.results[0].outcome is Outcome.INCORRECT
    assert result.score == 0


def test_explanations_come_with_the_grade_only_when_the_config_says_so() -> None:
    questions = validate_questions([single(explanation="B, because.")])

    hidden = grade(questions, DEFAULT_SCORING, {"q1": "a"})
    shown = grade(questions, ScoringConfig(show_explanations_after_submit=True), {"q1": "a"})

    assert hidden.results[0].explanation is None
    assert shown.results[0].explanation == "B, because."


def test_a_poker_attempt_is_graded_with_pot_odds_position_and_hand_ranking() -> None:
    document = example("poker_assessment.json")
    questions, scoring = validate_assessment(document["questions"], document["scoring_config"])
    answers: dict[str, object] = {
        "pot-odds-call": 25.4,
        "last-to-act": "button",
        "hand-ranking": [
            "straight-flush",
            "four-of-a-kind",
            "flush",
            "full-house",
            "straight",
            "three-of-a-kind",
        ],
        "legal-actions-facing-bet": ["fold", "call"],
        "flush-beats-straight": True,
        "poker-terms": {"nuts": "best-hand", "gutshot": "first-three", "river": "fifth-card"},
        "first-three-cards": "The Flpo",
    }

    result = grade(questions, scoring, answers)

    outcomes = {r.question_id: r.outcome for r in result.results}
    assert outcomes == {
        "pot-odds-call": Outcome.CORRECT,
        "last-to-act": Outcome.CORRECT,
        "hand-ranking": Outcome.PARTIAL,
        "legal-actions-facing-bet": Outcome.INCORRECT,
        "flush-beats-straight": Outcome.CORRECT,
        "poker-terms": Outcome.PARTIAL,
        "first-three-cards": Outcome.CORRECT,
    }
    # 2 + 1 + 2 * 4/5 + 0 + 1 + 2/3 + 1 of 9 points
    assert result.score == Decimal("80.74")
    assert result.wrong == ("hand-ranking", "legal-actions-facing-bet", "poker-terms")
    assert result.results[0].explanation is not None
    assert grade(questions, scoring, {"pot-odds-call": 26}).results[0].outcome is Outcome.INCORRECT


def test_a_spanish_vocabulary_attempt_forgives_accents_but_not_the_tilde_of_n() -> None:
    document = example("spanish_vocabulary_assessment.json")
    questions, scoring = validate_assessment(document["questions"], document["scoring_config"])
    answers: dict[str, object] = {
        "song": "La cancion",
        "year": "el ano",
        "truck": "el camoin",
        "how-are-you": "que tal",
        "embarazada": False,
        "article-agua": "la",
        "days": {"monday": "lunes", "wednesday": "miercoles", "saturday": "sabado"},
    }

    result = grade(questions, scoring, answers)

    assert result.wrong == ("year", "article-agua")
    assert result.score == Decimal("69.23")


# --- attempts ------------------------------------------------------------------------------

SCORES = [Decimal("40.00"), Decimal("90.50"), Decimal("70.25")]


@pytest.mark.parametrize(
    ("method", "expected"),
    [
        (GradeMethod.HIGHEST, "90.50"),
        (GradeMethod.AVERAGE, "66.91"),
        (GradeMethod.FIRST, "40.00"),
        (GradeMethod.LAST, "70.25"),
    ],
)
def test_combine_applies_the_grade_method_to_the_attempts_in_order(
    method: GradeMethod, expected: str
) -> None:
    assert combine(SCORES, method) == Decimal(expected)


def test_combine_has_no_grade_without_attempts() -> None:
    assert combine([], GradeMethod.HIGHEST) is None


def test_passing_means_reaching_the_threshold() -> None:
    questions = validate_questions([single(), true_false(id="q2")])
    result = grade(questions, DEFAULT_SCORING, {"q1": "b"})

    assert passed(Decimal("70.00"), 70)
    assert not passed(Decimal("69.99"), Decimal(70))
    assert result.passed(50)
    assert not result.passed(Decimal("50.01"))


# --- properties ----------------------------------------------------------------------------

SLUGS = st.from_regex(r"[a-z][a-z0-9]{0,5}", fullmatch=True)
VISIBLE_TEXT = st.text(alphabet="abcdefghij klm", min_size=1, max_size=20).map(lambda s: f"t{s}")
POINTS = st.sampled_from([None, 1, 2, 0.5, 2.25, 1000])
SECRET = "ZQXSECRET"
ANSWER_TEXT = st.text(st.characters(exclude_characters="\x00"), max_size=30)


@st.composite
def option_lists(draw: st.DrawFn, min_size: int = 2) -> list[dict[str, str]]:
    ids = draw(st.lists(SLUGS, min_size=min_size, max_size=8, unique=True))
    return [{"id": option_id, "text": f"text of {option_id}"} for option_id in ids]


@st.composite
def answer_keys(draw: st.DrawFn, question: dict[str, Any]) -> dict[str, Any]:
    """A valid answer key for the question's choices or items."""
    match question["kind"]:
        case "single_choice":
            return {"correct": draw(st.sampled_from(question["choices"]))["id"]}
        case "multiple_choice":
            ids = [c["id"] for c in question["choices"]]
            picked = draw(st.lists(st.sampled_from(ids), min_size=1, unique=True))
            return {"correct": picked}
        case "true_false":
            return {"correct": draw(st.booleans())}
        case "numeric":
            return {
                "correct": draw(st.floats(-1e6, 1e6, allow_nan=False)),
                "tolerance": draw(st.sampled_from([0, 0.5, 1, 2.5])),
            }
        case "short_text":
            words = st.from_regex(r"[A-Za-z]{1,12}", fullmatch=True).map(lambda w: SECRET + w)
            return {"accepted": draw(st.lists(words, min_size=1, max_size=3, unique=True))}
        case "ordering":
            return {"correct_order": draw(st.permutations([i["id"] for i in question["items"]]))}
        case _:
            rights = draw(st.permutations([r["id"] for r in question["right"]]))
            return {"pairs": {left["id"]: rights[n] for n, left in enumerate(question["left"])}}


@st.composite
def question_documents(draw: st.DrawFn, question_id: str) -> dict[str, Any]:
    kind = draw(st.sampled_from([kind.value for kind in QuestionKind]))
    question: dict[str, Any] = {"id": question_id, "kind": kind, "prompt": draw(VISIBLE_TEXT)}
    if draw(st.booleans()):
        question["explanation"] = f"{SECRET} explanation"
    if (points := draw(POINTS)) is not None:
        question["points"] = points
    match kind:
        case "single_choice" | "multiple_choice":
            question["choices"] = draw(option_lists())
            question["shuffle_choices"] = draw(st.booleans())
        case "numeric":
            if draw(st.booleans()):
                question["unit"] = "%"
        case "short_text":
            question["max_typos"] = draw(st.integers(0, MAX_TYPOS))
            question["normalize"] = {"fold_accents": draw(st.booleans())}
        case "ordering":
            question["items"] = draw(option_lists(min_size=MIN_ORDERING_ITEMS))
        case "matching":
            left = draw(option_lists())
            extra = draw(st.integers(0, 2))
            question["left"] = left
            question["right"] = [
                {"id": f"r{n}", "text": f"right {n}"} for n in range(len(left) + extra)
            ]
    question.update(draw(answer_keys(question)))
    return question


@st.composite
def assessments(draw: st.DrawFn) -> list[dict[str, Any]]:
    ids = draw(st.lists(SLUGS, min_size=1, max_size=6, unique=True))
    return [draw(question_documents(question_id)) for question_id in ids]


def full_credit_answer(question: dict[str, Any]) -> object:
    match question["kind"]:
        case "short_text":
            return question["accepted"][0]
        case "ordering":
            return question["correct_order"]
        case "matching":
            return question["pairs"]
        case _:
            return question["correct"]


@st.composite
def any_answer(draw: st.DrawFn, question: dict[str, Any]) -> object:
    """An answer of the right shape, right or not."""
    match question["kind"]:
        case "single_choice":
            return draw(st.sampled_from(question["choices"]))["id"]
        case "multiple_choice":
            return draw(
                st.lists(st.sampled_from([c["id"] for c in question["choices"]]), unique=True)
            )
        case "true_false":
            return draw(st.booleans())
        case "numeric":
            return draw(st.floats(-1e6, 1e6, allow_nan=False) | st.integers(-100, 100))
        case "short_text":
            return draw(ANSWER_TEXT | st.sampled_from(question["accepted"]))
        case "ordering":
            return draw(st.permutations([i["id"] for i in question["items"]]))
        case _:
            lefts = draw(
                st.lists(st.sampled_from([i["id"] for i in question["left"]]), unique=True)
            )
            rights = draw(st.permutations([r["id"] for r in question["right"]]))
            return dict(zip(lefts, rights, strict=False))


@settings(max_examples=100, deadline=None)
@given(assessments(), st.text(max_size=20))
def test_a_learner_view_never_holds_an_answer_key_explanation_or_the_right_order(
    documents: list[dict[str, Any]], seed: str
) -> None:
    questions = validate_questions(documents)

    views = learner_views(questions, seed=seed)

    assert SECRET not in json.dumps(views)
    for view, document in zip(views, documents, strict=True):
        assert not HIDDEN_KEYS & set(view)
        if document["kind"] == "ordering":
            assert [item["id"] for item in view["items"]] != document["correct_order"]
        assert view == learner_view(validate_questions([document])[0], seed=seed)


@settings(max_examples=100, deadline=None)
@given(st.data(), SLUGS, st.text(max_size=20))
def test_a_learner_view_is_the_same_whatever_the_answer_key(
    data: st.DataObject, question_id: str, seed: str
) -> None:
    document = data.draw(question_documents(question_id))
    if document["kind"] == "ordering":
        return
    other = copy.deepcopy(document)
    other.update(data.draw(answer_keys(other)))

    assert learner_view(one(document), seed=seed) == learner_view(one(other), seed=seed)


@settings(max_examples=100, deadline=None)
@given(assessments())
def test_full_credit_answers_score_100_with_nothing_to_review(
    documents: list[dict[str, Any]],
) -> None:
    questions = validate_questions(documents)
    answers = {document["id"]: full_credit_answer(document) for document in documents}

    result = grade(questions, DEFAULT_SCORING, answers)

    assert result.score == Decimal("100.00")
    assert result.wrong == ()
    assert all(r.outcome is Outcome.CORRECT for r in result.results)


@settings(max_examples=150, deadline=None)
@given(st.data(), assessments(), st.booleans())
def test_any_attempt_scores_between_0_and_100_and_its_wrong_list_matches_its_results(
    data: st.DataObject, documents: list[dict[str, Any]], partial_credit: bool
) -> None:
    questions = validate_questions(documents)
    answers = {
        document["id"]: data.draw(any_answer(document))
        for document in documents
        if data.draw(st.booleans())
    }

    result = grade(questions, ScoringConfig(partial_credit=partial_credit), answers)

    assert Decimal(0) <= result.score <= Decimal(100)
    assert result.score.as_tuple().exponent == -2
    assert (result.score == 100) == (result.wrong == ())
    assert sum((r.earned for r in result.results), Decimal(0)) <= result.possible
    for r in result.results:
        assert Decimal(0) <= r.earned <= r.possible
        assert (r.outcome is Outcome.UNANSWERED) == (r.question_id not in answers)
        if not partial_credit:
            assert r.outcome is not Outcome.PARTIAL


@settings(max_examples=100, deadline=None)
@given(st.data(), SLUGS)
def test_a_checked_answer_checks_again_to_itself(data: st.DataObject, question_id: str) -> None:
    document = data.draw(question_documents(question_id))
    question = one(document)
    answer = data.draw(any_answer(document))

    checked = check_answer(question, answer)

    assert check_answer(question, checked) == checked
