"""The crisis detector: what it must find, what it must leave alone, and how it reads text."""

import json
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from convobase.safety import (
    Category,
    Detector,
    LexiconError,
    Screening,
    Severity,
    default_detector,
    load_lexicons,
    match_key,
    normalize,
)
from convobase.safety import detector as detector_module
from convobase.safety.evaluation import (
    MAX_BENIGN_FLAGGED_MODERATE,
    Case,
    evaluate,
    format_report,
    load_cases,
    main,
)
from convobase.safety.normalize import key_words

CASES_FILE = Path(__file__).with_name("cases.jsonl")
CASES = load_cases(CASES_FILE)
MUST_NOT_MISS = [
    case for case in CASES if case.severity is not None and case.severity >= Severity.HIGH
]

detector = default_detector()


Recent = Sequence[str] | Callable[[], Sequence[str]]


def screen(text: str, recent: Recent = ()) -> Screening | None:
    return detector.detect(text, recent=recent)


def found(text: str, recent: Recent = ()) -> Screening:
    screening = screen(text, recent)
    assert screening is not None, f"nothing found in {text!r}"
    return screening


# -- the labelled cases -----------------------------------------------------------------


def test_the_cases_cover_every_category_severity_and_both_languages() -> None:
    assert len(CASES) >= 220
    assert sum(case.benign for case in CASES) >= 80
    assert {case.category for case in CASES if case.category} == set(Category)
    assert {case.severity for case in CASES if case.severity} == set(Severity)
    assert {case.language for case in CASES} == {"en", "es"}
    assert any(case.recent for case in CASES)


def test_the_cases_meet_the_evaluation_targets() -> None:
    report = evaluate(detector, CASES)

    assert report.by_severity[Severity.HIGH].recall == 1.0, format_report(report)
    assert report.by_severity[Severity.CRITICAL].recall == 1.0, format_report(report)
    assert report.benign_flagged_moderate_rate <= MAX_BENIGN_FLAGGED_MODERATE, format_report(report)
    assert report.meets_targets


@pytest.mark.parametrize("case", MUST_NOT_MISS, ids=lambda case: case.text[:60])
def test_a_high_or_critical_case_is_never_missed(case: Case) -> None:
    screening = found(case.text, case.recent)

    assert screening.category is case.category
    assert case.severity is not None
    assert screening.severity >= case.severity


# -- severity after the C-SSRS triage ---------------------------------------------------


@pytest.mark.parametrize(
    ("text", "severity"),
    [
        ("I wish I could sleep and never wake up", Severity.LOW),
        ("I don't want to be here anymore", Severity.LOW),
        ("I want to kill myself", Severity.MODERATE),
        ("how many pills would it take", Severity.MODERATE),
        ("I'm going to kill myself", Severity.HIGH),
        ("I've written a note", Severity.HIGH),
        ("I'm going to kill myself tonight", Severity.CRITICAL),
        ("I'm going to kill myself after class today", Severity.CRITICAL),
        ("this is goodbye, thank you for everything", Severity.CRITICAL),
        ("I took all my pills", Severity.CRITICAL),
    ],
)
def test_severity_follows_the_columbia_triage(text: str, severity: Severity) -> None:
    screening = found(text)

    assert screening.category is Category.SUICIDE
    assert screening.severity is severity


def test_severity_is_an_ordered_enum_with_lower_case_labels() -> None:
    assert Severity.LOW < Severity.MODERATE < Severity.HIGH < Severity.CRITICAL
    assert max(Severity.HIGH, Severity.LOW) is Severity.HIGH
    assert Severity.parse("critical") is Severity.CRITICAL
    assert Severity.MODERATE.label == "moderate"
    with pytest.raises(ValueError, match="unknown severity"):
        Severity.parse("extreme")


def test_tonight_after_a_wish_to_die_is_critical() -> None:
    screening = found("tonight", recent=["hi", "I want to die"])

    assert screening.category is Category.SUICIDE
    assert screening.severity is Severity.CRITICAL
    assert screening.keywords == ("tonight",)


def test_means_at_hand_after_a_wish_to_die_is_critical() -> None:
    assert found("I have the pills right here", ["I want to die"]).severity is Severity.CRITICAL
    assert found("tengo las pastillas aquí", ["me quiero morir"]).severity is Severity.CRITICAL


def test_a_time_or_a_means_alone_is_not_a_crisis() -> None:
    assert screen("tonight") is None
    assert screen("see you tonight!") is None
    assert screen("I already took them") is None
    assert found("I have the pills right here").severity is Severity.LOW


def test_a_benign_message_after_a_crisis_is_not_itself_flagged() -> None:
    recent = ["I want to kill myself"]

    assert screen("ok, can we practise the past tense now?", recent) is None
    assert screen("what's the weather like tonight?", recent) is None


class EarlierTurns:
    """Earlier user messages handed to `detect` as a function, which counts its calls."""

    def __init__(self, *messages: str) -> None:
        self.messages = list(messages)
        self.calls = 0

    def __call__(self) -> list[str]:
        self.calls += 1
        return self.messages


@pytest.mark.parametrize(
    "text",
    ["how do I conjugate tener?", "Can we practise the past tense?", "lol you're killing me"],
)
def test_earlier_turns_are_not_read_for_an_ordinary_message(text: str) -> None:
    turns = EarlierTurns("hi", "I want to die")

    assert screen(text, turns) is None
    assert turns.calls == 0


@pytest.mark.parametrize(
    "text", ["I want to kill myself", "I'm going to kill myself", "my dad hits me", "I cut myself"]
)
def test_earlier_turns_are_not_read_for_a_finding_they_cannot_change(text: str) -> None:
    turns = EarlierTurns("hi", "I'm 13", "I want to die")

    assert screen(text, turns) == screen(text) == screen(text, turns.messages)
    assert turns.calls == 0


def test_earlier_turns_are_read_once_for_a_time_and_still_raise_it() -> None:
    turns = EarlierTurns("hi", "I want to die")

    screening = found("tonight", turns)

    assert screening.category is Category.SUICIDE
    assert screening.severity is Severity.CRITICAL
    assert screening.keywords == ("tonight",)
    assert turns.calls == 1


def test_earlier_turns_are_read_once_for_a_disclosure_a_minors_age_raises() -> None:
    turns = EarlierTurns("i'm 13 btw")

    assert found("my uncle touched me", turns).severity is Severity.CRITICAL
    assert turns.calls == 1


def test_earlier_turns_without_a_crisis_leave_a_time_alone() -> None:
    turns, none = EarlierTurns("what's for dinner?"), EarlierTurns()

    assert screen("tonight", turns) is None
    assert screen("tonight", none) is None
    assert turns.calls == none.calls == 1


@pytest.mark.parametrize("case", [case for case in CASES if case.recent], ids=lambda c: c.text[:60])
def test_earlier_turns_as_a_function_or_a_list_screen_alike(case: Case) -> None:
    turns = EarlierTurns(*case.recent)

    assert screen(case.text, turns) == screen(case.text, case.recent)
    assert turns.calls <= 1


def test_a_time_before_a_wish_is_not_its_time_but_before_an_intent_it_is() -> None:
    assert found("today was awful and I want to die").severity is Severity.MODERATE
    assert found("I want to die today").severity is Severity.CRITICAL
    assert found("hoy me voy a matar").severity is Severity.CRITICAL


# -- negation, third parties, hypotheticals ---------------------------------------------


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("I would never kill myself", Category.SUICIDE),
        ("I'm not going to hurt myself", Category.SELF_HARM),
        ("I'm not suicidal, just tired", Category.SUICIDE),
        ("I'm not going to kill myself tonight, don't worry", Category.SUICIDE),
        ("nunca me haría daño", Category.SELF_HARM),
        ("no me voy a matar", Category.SUICIDE),
    ],
)
def test_negation_lowers_severity_but_never_erases_it(text: str, category: Category) -> None:
    screening = found(text)

    assert screening.category is category
    assert screening.severity is Severity.LOW


def test_negation_reaches_only_its_own_clause() -> None:
    assert found("I'm not suicidal but I want to die").severity is Severity.MODERATE
    assert found("I don't know why I want to die").severity is Severity.MODERATE


@pytest.mark.parametrize(
    "text",
    [
        "my friend wants to kill herself",
        "mi hermana se quiere morir",
        "mi amigo se quiere suicidar",
        "I think my brother is suicidal",
        "my dad hits my little sister",
    ],
)
def test_a_report_about_someone_else_is_third_party(text: str) -> None:
    screening = found(text)

    assert screening.category is Category.THIRD_PARTY
    assert screening.about_someone_else
    assert screening.concern is not Category.THIRD_PARTY
    assert screening.severity >= Severity.MODERATE


def test_a_third_party_report_keeps_the_severity_it_would_have_had() -> None:
    mine = found("I'm going to kill myself tonight")
    theirs = found("my best friend said she's going to kill herself tonight")

    assert theirs.severity is mine.severity is Severity.CRITICAL
    assert theirs.concern is Category.SUICIDE


def test_the_writer_telling_someone_about_their_own_wish_is_not_third_party() -> None:
    screening = found("I told my mom I want to die")

    assert screening.category is Category.SUICIDE
    assert not screening.about_someone_else


@pytest.mark.parametrize(
    "text",
    [
        "asking for a friend, how many pills is lethal",
        "hypothetically what's the most painless way to die",
        "for a story I'm writing: how would someone hang themselves",
        "¿cuántas pastillas se necesitan para morir?",
    ],
)
def test_method_questions_are_not_discounted_as_hypothetical(text: str) -> None:
    screening = found(text)

    assert screening.category is Category.SUICIDE
    assert screening.severity >= Severity.MODERATE
    assert not screening.about_someone_else


# -- coded language, abuse, other categories --------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["kms", "i want to unalive myself", "thinking about sewerslide", "i want to self delete"],
)
def test_coded_language_is_read(text: str) -> None:
    assert found(text).severity >= Severity.MODERATE


def test_catch_the_bus_counts_only_after_ideation() -> None:
    assert screen("i'm going to catch the bus home") is None
    assert found("i'll catch the bus", ["i want to die"]).severity >= Severity.HIGH


def test_kys_is_hostility_towards_others_not_the_writers_crisis() -> None:
    screening = found("kys")

    assert screening.category is Category.HARM_TO_OTHERS
    assert screening.severity is Severity.LOW
    assert found("people keep telling me to kys").category is Category.ABUSE


def test_a_minors_disclosure_of_sexual_abuse_is_critical() -> None:
    assert found("I'm 14 and he touches me").severity is Severity.CRITICAL
    assert found("tengo 12 años y mi tío me toca").severity is Severity.CRITICAL
    assert found("my uncle touched me", ["i'm 13 btw"]).severity is Severity.CRITICAL
    assert found("my uncle touched me").severity is Severity.HIGH


@pytest.mark.parametrize(
    ("text", "category", "severity"),
    [
        ("my dad hits me", Category.ABUSE, Severity.HIGH),
        ("mi papá me pega", Category.ABUSE, Severity.HIGH),
        ("I haven't eaten in 4 days", Category.EATING_DISORDER, Severity.MODERATE),
        ("me provoco el vómito", Category.EATING_DISORDER, Severity.MODERATE),
        ("I relapsed", Category.SUBSTANCE, Severity.MODERATE),
        ("mixing xanax and alcohol", Category.SUBSTANCE, Severity.MODERATE),
        ("I'm going to hurt him", Category.HARM_TO_OTHERS, Severity.HIGH),
        ("I want to kill my teacher", Category.HARM_TO_OTHERS, Severity.MODERATE),
        ("me corto", Category.SELF_HARM, Severity.MODERATE),
    ],
)
def test_each_category_is_found(text: str, category: Category, severity: Severity) -> None:
    screening = found(text)

    assert screening.category is category
    assert screening.severity is severity


# -- what must not fire -----------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "you're killing it!",
        "you're killing me 😂",
        "I'm dying to try that new ramen place",
        "I'm dying of laughter",
        "kill the process",
        "kill -9 4242",
        "coach made us do suicide sprints",
        "the suicide squeeze is a risky play",
        "I'm all in",
        "I'm dead 💀",
        "my legs are dead after the 10k",
        "this traffic is killing me",
        "drop dead gorgeous",
        "a killer app",
        "I overdosed on coffee this morning",
        "we're killing time before the movie",
        "I cut myself shaving",
        "me muero de risa",
        "el tráfico me está matando",
        "me voy a cortar el pelo",
    ],
)
def test_idioms_do_not_fire(text: str) -> None:
    assert screen(text) is None


@pytest.mark.parametrize(
    "text",
    [
        "¿cómo se dice 'morir' en inglés?",
        "conjugate the verb matar",
        "the word suicidio",
        "how do you say 'I want to die' in Spanish?",
        "¿qué significa 'me quiero morir'?",
        "la palabra suicidio",
    ],
)
def test_language_learning_mentions_do_not_fire(text: str) -> None:
    assert screen(text) is None


def test_the_screening_names_the_lexicon_phrases_and_version() -> None:
    screening = found("I want to kill myself tonight")

    assert screening.lexicon_version == detector.lexicon_version
    assert "(kill|kills|killed|killing) {self}" in screening.keywords
    assert "tonight" in screening.keywords


# -- long and odd input -----------------------------------------------------------------


def test_a_long_message_is_screened_around_its_crisis_phrase() -> None:
    filler = "We practised the subjunctive and the past tense today. " * 600
    text = filler + "Honestly I want to kill myself tonight. " + filler

    assert len(text) > 32 * 1024
    assert found(text).severity is Severity.CRITICAL
    assert screen(filler) is None


@pytest.mark.parametrize("case", MUST_NOT_MISS[::7], ids=lambda case: case.text[:60])
def test_a_crisis_in_the_middle_of_long_text_is_found_as_alone(case: Case) -> None:
    filler = "Our team met on Tuesday to plan the garden, and the minutes will follow. " * 220
    text = filler + case.text + ". " + filler

    screening = found(text, case.recent)

    assert screening.category is case.category
    assert case.severity is not None
    assert screening.severity >= case.severity


def test_screening_from_many_threads_answers_as_one_thread() -> None:
    # A fresh detector, so threads race to look the same new words up.
    fresh = Detector()
    texts = [case.text for case in CASES] * 2

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(fresh.detect, texts))

    assert answers == [detector.detect(text) for text in texts]


def test_the_word_memory_starts_afresh_when_full(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(detector_module, "KNOWN_WORDS", 10)
    fresh = Detector()

    for case in CASES[:50]:
        assert fresh.detect(case.text, recent=case.recent) == screen(case.text, case.recent)
    assert len(fresh._known) < 50


@pytest.mark.parametrize("text", ["", "   ", "💀💀💀", "?!.,", "a" * 5000, "k" + " i" * 2000])
def test_odd_input_is_answered_without_error(text: str) -> None:
    assert screen(text) is None


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300), st.lists(st.text(max_size=60), max_size=3))
def test_any_text_is_screened_without_error(text: str, recent: list[str]) -> None:
    screening = detector.detect(text, recent=recent)

    assert screening is None or screening.lexicon_version == detector.lexicon_version


# -- normalisation ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "read"),
    [
        ("K1ll mys3lf", "kill myself"),
        ("su1c1de", "suicide"),
        ("k!ll", "kill"),
        ("ki11", "kill"),
        ("$uicidal", "suicidal"),
        ("@ll 0f th3m", "all of them"),
    ],
)
def test_normalize_undoes_leetspeak(written: str, read: str) -> None:
    assert normalize(written) == read


def test_normalize_leaves_numbers_and_punctuation_alone() -> None:
    assert normalize("I haven't eaten in 4 days!") == "i haven't eaten in 4 days!"
    assert normalize("10k at 4pm, 200mg") == "10k at 4pm, 200mg"
    assert normalize("kill -9 1234") == "kill -9 1234"


def test_normalize_maps_look_alike_letters_to_latin() -> None:
    # Cyrillic k, i and u; Cyrillic s, i, c, e; fullwidth letters.
    assert normalize("\u043a\u0456ll m\u0443self") == "kill myself"
    assert normalize("\u0455u\u0456\u0441\u0456d\u0435") == "suicide"
    assert normalize("\uff4b\uff49\uff4c\uff4c") == "kill"
    assert normalize("ki\u200bll") == "kill"
    assert normalize("k̷i̷l̷l̷") == "kill"


def test_normalize_joins_spaced_out_letters() -> None:
    assert normalize("k i l l myself") == "kill myself"
    assert normalize("s.u.i.c.i.d.e") == "suicide"
    assert normalize("k-1-l-l") == "kill"
    assert normalize("plan a, b, c") == "plan a, b, c"
    assert normalize("1 2 3") == "1 2 3"


def test_normalize_shortens_stretched_letters_but_keeps_doubled_ones() -> None:
    assert normalize("diiiiie") == "die"
    assert normalize("nooooo") == "no"
    assert normalize("killing it, all good") == "killing it, all good"


def test_normalize_folds_case_beyond_ascii_and_the_key_drops_accents() -> None:
    assert normalize("ÀÉÎÕÜ Straße MAÑANA") == "àéîõü strasse mañana"
    assert match_key("ÀÉÎÕÜ Straße, MAÑANA ½") == "aeiou strasse, manana 1 2"


def test_normalize_keeps_accents_and_the_key_drops_them() -> None:
    assert normalize("¿Cómo estás?") == "¿cómo estás?"
    assert match_key("Está bien") == "esta bien"


def test_emoji_that_mean_something_become_words_and_skulls_do_not() -> None:
    assert normalize("💊") == "pills"
    assert normalize("🔪🪢🔫") == "knife rope gun"
    assert normalize("⚰️") == "coffin"
    assert normalize("I'm dead 💀") == "i'm dead"


def test_the_match_key_drops_apostrophes_and_keeps_quotes_of_mentions() -> None:
    assert match_key("I don't want to die.\nTonight") == "i dont want to die..tonight"
    assert key_words(match_key("I don't want to die.\nTonight")) == [
        "i",
        "dont",
        "want",
        "to",
        "die",
        "tonight",
    ]
    assert match_key("the word 'morir'") == 'the word "morir"'


# -- the lexicon is data ----------------------------------------------------------------


def test_every_lexicon_file_carries_the_same_version() -> None:
    lexicons = load_lexicons()

    assert {lexicon["language"] for lexicon in lexicons} >= {"en", "es"}
    assert {lexicon["version"] for lexicon in lexicons} == {detector.lexicon_version}


def minimal_lexicon(**overrides: Any) -> dict[str, Any]:
    lexicon: dict[str, Any] = {
        "language": "fr",
        "version": "test.1",
        "macros": {"moi": "(me|m)"},
        "rules": [
            {"category": "suicide", "severity": "moderate", "phrases": ["je veux mourir"]},
            {"category": "suicide", "severity": "high", "phrases": ["je vais {moi} tuer"]},
        ],
        "modifiers": [{"kind": "time", "phrases": ["ce soir"]}],
        "benign": ["mourir de rire"],
        "negation": {"cues": ["ne", "pas", "jamais"], "bridges": ["je"]},
        "subjects": {"self_subject": ["je"], "other_subject": ["(il|elle)"]},
    }
    lexicon.update(overrides)
    return lexicon


def test_a_language_is_a_data_file() -> None:
    french = Detector([minimal_lexicon()])

    assert french.languages == ("fr",)
    assert french.lexicon_version == "test.1"
    screening = french.detect("Je vais me tuer ce soir")
    assert screening is not None
    assert screening.severity is Severity.CRITICAL
    assert french.detect("je veux mourir de rire") is None
    assert french.detect("I want to kill myself") is None


@pytest.mark.parametrize(
    ("phrase", "complaint"),
    [
        ("je (veux mourir", "unbalanced parenthesis"),
        ("je veux {mourir}", "unknown macro"),
        ("? mourir", "must follow a word or a group"),
        ("je veux mourir!", "not a word of letters and digits"),
    ],
)
def test_a_broken_phrase_is_refused_with_its_text(phrase: str, complaint: str) -> None:
    broken = minimal_lexicon(
        rules=[{"category": "suicide", "severity": "low", "phrases": [phrase]}]
    )

    with pytest.raises(LexiconError, match=complaint):
        Detector([broken])


def test_lexicon_files_must_agree_on_their_version() -> None:
    with pytest.raises(LexiconError, match="same version"):
        Detector([minimal_lexicon(), minimal_lexicon(language="xx", version="test.2")])


def test_third_party_is_decided_by_the_detector_not_the_lexicon() -> None:
    wrong = minimal_lexicon(
        rules=[{"category": "third_party", "severity": "low", "phrases": ["x"]}]
    )

    with pytest.raises(LexiconError, match="third_party"):
        Detector([wrong])


def test_every_shipped_phrase_can_be_prefiltered() -> None:
    # A phrase with no word it cannot match without would run on every message.
    assert detector._always == []


def test_the_shipped_lexicon_files_are_package_data() -> None:
    for lexicon in load_lexicons():
        json.dumps(lexicon)  # plain JSON, loaded through importlib.resources
        assert lexicon["rules"], lexicon["language"]


# -- the evaluation ---------------------------------------------------------------------


def test_evaluation_counts_a_higher_severity_as_recalled_and_the_wrong_category_as_missed() -> None:
    cases = [
        Case("I'm going to kill myself tonight", Category.SUICIDE, Severity.HIGH, "en"),
        Case("I want to kill myself", Category.SELF_HARM, Severity.MODERATE, "en"),
        Case("I want to kill myself", None, None, "en"),
        Case("hello there", None, None, "en"),
    ]

    report = evaluate(detector, cases)

    assert report.by_severity[Severity.HIGH].recall == 1.0
    assert report.by_severity[Severity.HIGH].exact == 0
    assert report.by_severity[Severity.MODERATE].recall == 0.0
    assert report.benign_flagged == report.benign_flagged_moderate == 1
    assert report.benign_flagged_moderate_rate == 0.5
    assert not report.meets_targets


def test_the_evaluation_command_prints_a_table_and_succeeds_on_the_cases(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main([str(CASES_FILE)]) == 0

    printed = capsys.readouterr().out
    assert "recall" in printed
    assert "targets    met" in printed


def test_a_malformed_case_is_reported_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "cases.jsonl"
    path.write_text(
        '{"text": "hi", "category": null, "severity": null}\n{"text": 1, "category": "x"}\n'
    )

    with pytest.raises(ValueError, match=r"cases.jsonl:2"):
        load_cases(path)
