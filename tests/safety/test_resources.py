"""Crisis lines and supportive messages: what a flagged message is answered with."""

import copy
import json
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from string import Formatter
from typing import Any

import pytest

from convobase.safety import Category, Screening, Severity, default_detector
from convobase.safety import resources as resources_module
from convobase.safety.resources import (
    BANDS,
    LINES_FILE,
    MAX_HEADER,
    MAX_RESOURCES,
    MAX_TAGS,
    MESSAGE_KINDS,
    MESSAGES_FILE,
    CrisisDirectory,
    CrisisResource,
    Referral,
    ResourceDataError,
    canonical_language_tag,
    default_directory,
    load_resource_files,
    parse_accept_language,
)

directory = default_directory()
LINES, MESSAGES = load_resource_files()
TEMPLATES: dict[tuple[str, str, str], str] = {
    (language, kind, band): entry["messages"][kind][band]
    for language, entry in MESSAGES["languages"].items()
    for kind in MESSAGE_KINDS
    for band in BANDS
}
RISKS = [category for category in Category if category is not Category.THIRD_PARTY]


def refer(
    category: Category = Category.SUICIDE,
    severity: Severity = Severity.MODERATE,
    *,
    about_someone_else: bool = False,
    country: Any = None,
    languages: Any = ("en",),
) -> Referral:
    return directory.referral(
        category,
        severity,
        about_someone_else=about_someone_else,
        country=country,
        languages=languages,
    )


def ids(referral: Referral) -> list[str]:
    return [resource.id for resource in referral.resources]


def refer_screening(
    screening: Screening, country: str | None, languages: Sequence[str]
) -> Referral:
    return directory.referral(
        screening.concern,
        screening.severity,
        about_someone_else=screening.about_someone_else,
        country=country,
        languages=languages,
    )


def found(text: str, recent: Sequence[str] = ()) -> Screening:
    screening = default_detector().detect(text, recent=recent)
    assert screening is not None, f"nothing found in {text!r}"
    return screening


# -- which lines --------------------------------------------------------------------------


def test_english_in_the_us_gets_988() -> None:
    referral = refer(languages=parse_accept_language("en-US,en;q=0.9"))

    assert referral.country == "US"
    assert referral.language == "en"
    assert ids(referral) == ["us-988", "us-crisis-text-line"]
    assert "988 Suicide & Crisis Lifeline" in referral.message
    assert referral.resources[0].contacts[0].to_dict() == {"kind": "phone", "number": "988"}


def test_a_spanish_accept_language_from_spain_gets_024_and_a_spanish_message() -> None:
    referral = refer(languages=parse_accept_language("es-ES,es;q=0.9,en;q=0.8"))

    assert referral.country == "ES"
    assert referral.language == "es"
    assert ids(referral) == ["es-024", "es-telefono-de-la-esperanza"]
    assert referral.message.startswith("Gracias por contármelo.")
    assert "024" in referral.message


def test_a_serious_message_from_spain_adds_112() -> None:
    referral = refer(severity=Severity.CRITICAL, languages=["es-ES"])

    assert ids(referral) == ["es-024", "es-telefono-de-la-esperanza", "es-emergency"]
    assert "llama al 112" in referral.message
    assert referral.resources[-1].name == "Emergencias"


@pytest.mark.parametrize(
    ("country", "languages"),
    [("IT", ["it-IT"]), (None, ["en"]), (None, []), ("ZZ", ["en-US"]), (None, ["pt-BR"])],
)
def test_an_unknown_country_gets_the_international_directory(
    country: str | None, languages: list[str]
) -> None:
    referral = refer(country=country, languages=languages)

    assert referral.country is None
    assert ids(referral)[0] == "int-find-a-helpline"
    assert all(resource.country is None for resource in referral.resources)
    assert "findahelpline.com" in referral.message


def test_an_unknown_country_is_told_to_call_the_local_emergency_number() -> None:
    english = refer(severity=Severity.CRITICAL, country="IT", languages=["en"])
    spanish = refer(severity=Severity.CRITICAL, country="PE", languages=["es-PE"])

    assert "call your local emergency number" in english.message
    assert "llama al número de emergencias de tu país" in spanish.message
    assert not any(resource.emergency for resource in english.resources)


def test_a_minors_abuse_disclosure_in_the_us_gets_childhelp() -> None:
    screening = found("I'm 14 and he touches me")
    assert (screening.category, screening.severity) == (Category.ABUSE, Severity.CRITICAL)

    referral = refer_screening(screening, "US", ["en-US"])

    assert ids(referral) == ["us-childhelp", "us-988", "us-emergency"]
    assert "Childhelp National Child Abuse Hotline (1-800-422-4453)" in referral.message
    assert "call 911" in referral.message
    assert "not your fault" in referral.message


def test_a_minors_abuse_disclosure_in_spain_gets_anar() -> None:
    screening = found("tengo 12 años y mi tío me toca")

    referral = refer_screening(screening, None, parse_accept_language("es-ES,es;q=0.9"))

    assert ids(referral) == ["es-anar", "es-024", "es-emergency"]
    assert referral.resources[0].note == "Para niños, niñas y adolescentes."
    assert "no es culpa tuya" in referral.message


@pytest.mark.parametrize(
    ("category", "country", "line"),
    [
        (Category.SUBSTANCE, "US", "us-samhsa"),
        (Category.EATING_DISORDER, "US", "us-anad"),
        (Category.ABUSE, "GB", "gb-childline"),
        (Category.EATING_DISORDER, "GB", "gb-beat"),
        (Category.ABUSE, "CA", "ca-kids-help-phone"),
        (Category.ABUSE, "AU", "au-kids-helpline"),
    ],
)
def test_a_line_for_the_kind_of_risk_comes_first(
    category: Category, country: str, line: str
) -> None:
    referral = refer(category, country=country)

    assert ids(referral)[0] == line
    assert referral.resources[1].general


def test_a_report_about_someone_else_gets_the_helpers_message() -> None:
    screening = found("my best friend said she's going to kill herself tonight")
    assert screening.about_someone_else

    referral = refer_screening(screening, "US", ["en"])

    line = "988 Suicide & Crisis Lifeline"
    assert referral.message == TEMPLATES["en", "someone_else", "high"].format(
        line=line, emergency="911"
    )
    assert ids(referral) == ["us-988", "us-crisis-text-line", "us-emergency"]


def test_the_helpers_message_is_given_whatever_the_category_passed() -> None:
    as_category = refer(Category.THIRD_PARTY, about_someone_else=True, country="GB")
    as_concern = refer(Category.ABUSE, about_someone_else=True, country="GB")

    assert as_category.message.startswith("It's kind of you to look out for them.")
    assert as_concern.message.startswith("It's kind of you to look out for them.")
    # The concern still picks the line: a child at risk, Childline.
    assert ids(as_concern)[0] == "gb-childline"
    assert ids(as_category)[0] == "gb-samaritans"


def test_the_persons_country_wins_over_their_language_region() -> None:
    assert refer(country="MX", languages=["es-ES"]).country == "MX"
    assert refer(country=" mx ", languages=["es-ES"]).country == "MX"
    assert refer(country="uk", languages=["es-ES"]).country == "GB"
    assert refer(languages=["en-UK"]).country == "GB"
    # A country with no entry is where the person is: not the US of their "en-US".
    assert refer(country="IT", languages=["en-US"]).country is None


def test_the_first_language_tag_with_a_region_names_the_country() -> None:
    assert refer(languages=["es", "fr-FR", "en-US"]).country == "FR"
    assert refer(languages=["zh-Hant-TW", "de-DE"]).country is None
    assert refer(languages=["es-419", "es-AR"]).country == "AR"


def test_a_spanish_speaker_in_the_us_gets_988_in_spanish() -> None:
    referral = refer(languages=["es-US"])

    assert referral.language == "es"
    assert ids(referral) == ["us-988"]  # Crisis Text Line answers in English only
    assert referral.resources[0].name == "988 Línea de Prevención del Suicidio y Crisis"
    assert referral.resources[0].note == "Para hablar en español, oprime 2."
    assert refer(languages=["es-US", "en"]).resources[1].id == "us-crisis-text-line"


def test_a_language_without_messages_gets_english_and_its_own_line() -> None:
    referral = refer(languages=parse_accept_language("de-DE,de;q=0.9"))

    assert referral.language == "en"
    assert ids(referral) == ["de-telefonseelsorge"]


def test_a_line_in_none_of_the_persons_languages_is_shown_when_nothing_else_is() -> None:
    referral = refer(country="DE", languages=["en"])

    assert ids(referral) == ["de-telefonseelsorge"]


@pytest.mark.parametrize("country", [*directory.countries, None])
@pytest.mark.parametrize("severity", list(Severity))
@pytest.mark.parametrize("category", list(Category))
def test_at_most_three_resources_with_the_emergency_number_last_when_serious(
    category: Category, severity: Severity, country: str | None
) -> None:
    referral = refer(category, severity, country=country, languages=["en", "es"])
    emergency = [resource for resource in referral.resources if resource.emergency]

    assert 1 <= len(referral.resources) <= MAX_RESOURCES
    assert not referral.resources[0].emergency
    if severity >= Severity.HIGH and country is not None:
        assert emergency == [referral.resources[-1]]
    else:
        assert emergency == []
    assert len(set(ids(referral))) == len(referral.resources)


def test_a_referral_is_deterministic_and_its_resources_are_json_ready() -> None:
    first = refer(Category.ABUSE, Severity.HIGH, country="US", languages=["en"])
    again = refer(Category.ABUSE, Severity.HIGH, country="US", languages=["en"])

    assert first == again
    shown = first.resources_shown()
    assert json.loads(json.dumps(shown)) == shown
    assert shown[0] == {
        "id": "us-childhelp",
        "name": "Childhelp National Child Abuse Hotline",
        "country": "US",
        "languages": ["en", "es"],
        "categories": ["abuse"],
        "contacts": [
            {"kind": "phone", "number": "1-800-422-4453"},
            {"kind": "web", "url": "https://www.childhelp.org"},
        ],
        "hours": "24/7",
        "emergency": False,
        "note": None,
    }
    assert shown[-1]["emergency"] is True
    assert isinstance(first.resources[0], CrisisResource)


# -- Accept-Language and bad input --------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "tags"),
    [
        ("fr-CH, fr;q=0.9, en;q=0.8, de;q=0.7, *;q=0.5", ["fr-CH", "fr", "en", "de"]),
        ("en;q=0.1, es", ["es", "en"]),
        ("de;q=0, en", ["en"]),
        ("EN-us;q=0.5, en-US;q=0.9", ["en-US"]),
        ("zh-hant-tw", ["zh-Hant-TW"]),
        ("es_ES", ["es-ES"]),
        ("en; q=0.5 , fr ;Q=0.7", ["fr", "en"]),
        ("da, en-gb;q=0.8, en;q=0.7", ["da", "en-GB", "en"]),
        ("es;q=0.5;level=1, en;q=0.5", ["es", "en"]),
    ],
)
def test_accept_language_is_ordered_by_quality(header: str, tags: list[str]) -> None:
    assert parse_accept_language(header) == tags


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "*",
        ",,,;;;",
        "q=1",
        "en;q=abc",
        "en;q=2",
        "en;q=-1",
        "en;q=0.0001",
        "e",
        "-en",
        "en-",
        "en--US",
        "i-klingon",
        "x-private",
        "en-US-abcdefghi",
        "\x00\xff\u202e",
        "😀;q=1, 日本語",
        "en;q=1;q=0.5;q=",
        "en-US" * 2000,
        42,
        b"en-US",
    ],
)
def test_malformed_accept_language_never_raises(header: Any) -> None:
    tags = parse_accept_language(header)

    assert all(canonical_language_tag(tag) == tag for tag in tags)
    assert tags == []
    refer(languages=tags)


def test_accept_language_reads_a_bounded_prefix_of_a_long_header() -> None:
    header = ",".join(
        f"l{chr(97 + index % 26)}{chr(97 + index // 26 % 26)}" for index in range(10**5)
    )
    late = "x" * MAX_HEADER + ",de-DE"

    assert len(parse_accept_language(header)) == MAX_TAGS
    assert parse_accept_language(late) == []
    assert parse_accept_language("fr," * 10**6) == ["fr"]


@pytest.mark.parametrize(
    "country",
    ["", "  ", "USA", "U", "u$", "12", "ÜS", "\x00", "U S", "us\n", 42, ["US"], b"US"],
)
def test_a_malformed_country_is_ignored(country: Any) -> None:
    referral = refer(country=country, languages=["es-MX"])

    expected = "US" if country == "us\n" else "MX"
    assert referral.country == expected


@pytest.mark.parametrize(
    "languages",
    [
        [],
        ["", " ", "*", "e", "x-klingon", "toolongtag", None, 5, b"en"],
        "es-AR,es;q=0.9",
        None,
        42,
        ["es-ar", "ES-AR"],
        ["es"] * 10_000,
    ],
)
def test_malformed_languages_are_ignored(languages: Any) -> None:
    referral = refer(languages=languages)

    assert referral.language in directory.languages
    assert referral.message


def test_a_string_of_languages_is_read_as_a_header() -> None:
    referral = refer(languages="es-AR,es;q=0.9")

    assert (referral.country, referral.language) == ("AR", "es")


# -- the data -----------------------------------------------------------------------------


def test_the_packaged_data_validates() -> None:
    loaded = CrisisDirectory.load()

    assert loaded.version == LINES["version"] == MESSAGES["version"]
    assert "review" in loaded.note
    assert default_directory() is default_directory()
    assert set(loaded.languages) >= {"en", "es"}
    assert set(loaded.countries) >= {
        "US", "CA", "GB", "IE", "ES", "MX", "AR", "CO", "CL", "AU", "NZ", "DE", "FR",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("resource_id", "contact"),
    [
        ("us-988", "988"),
        ("us-988", "https://988lifeline.org/chat"),
        ("us-crisis-text-line", "HOME 741741"),
        ("us-childhelp", "1-800-422-4453"),
        ("us-domestic-violence-hotline", "1-800-799-7233"),
        ("us-samhsa", "1-800-662-4357"),
        ("us-anad", "1-888-375-7767"),
        ("us-emergency", "911"),
        ("ca-988", "988"),
        ("gb-samaritans", "116 123"),
        ("gb-shout", "SHOUT 85258"),
        ("gb-childline", "0800 1111"),
        ("gb-emergency", "999"),
        ("ie-samaritans", "116 123"),
        ("es-024", "024"),
        ("es-telefono-de-la-esperanza", "717 003 717"),
        ("es-anar", "900 20 20 10"),
        ("es-emergency", "112"),
        ("mx-linea-de-la-vida", "800 911 2000"),
        ("ar-cas", "135"),
        ("ar-cas", "(011) 5275-1135"),
        ("co-106", "106"),
        ("cl-4141", "*4141"),
        ("au-lifeline", "13 11 14"),
        ("au-emergency", "000"),
        ("nz-1737", "1737"),
        ("de-telefonseelsorge", "0800 111 0 111"),
        ("fr-3114", "3114"),
        ("int-find-a-helpline", "https://findahelpline.com"),
    ],
)
def test_the_directory_has_the_lines_it_promises(resource_id: str, contact: str) -> None:
    resource = directory.resource(resource_id)

    shown = {" ".join(filter(None, (item.keyword, item.value))) for item in resource.contacts}
    assert contact in shown


def test_every_country_has_a_general_line_and_an_emergency_number() -> None:
    for country in directory.countries:
        emergency = directory.resource(f"{country.lower()}-emergency")
        assert emergency.emergency
        assert emergency.country == country
        assert emergency.hours == "24/7"
        assert refer(country=country).resources[0].general


def edit_lines(change: Callable[[dict[str, Any]], object]) -> dict[str, Any]:
    lines = copy.deepcopy(LINES)
    change(lines)
    return lines


def edit_messages(change: Callable[[dict[str, Any]], object]) -> dict[str, Any]:
    messages = copy.deepcopy(MESSAGES)
    change(messages)
    return messages


def first(lines: dict[str, Any]) -> dict[str, Any]:
    resource: dict[str, Any] = lines["resources"][0]
    return resource


def english(messages: dict[str, Any]) -> dict[str, Any]:
    templates: dict[str, Any] = messages["languages"]["en"]["messages"]
    return templates


@pytest.mark.parametrize(
    ("lines", "messages", "complaint"),
    [
        (edit_lines(lambda d: first(d).update(id="US 988")), MESSAGES, "lower-case words"),
        (edit_lines(lambda d: d["resources"].append(first(d))), MESSAGES, "us-988 twice"),
        (edit_lines(lambda d: first(d).update(country="USA")), MESSAGES, "ISO 3166-1"),
        (edit_lines(lambda d: first(d).update(country="us")), MESSAGES, "ISO 3166-1"),
        (edit_lines(lambda d: first(d).update(languages=["en-US"])), MESSAGES, "primary"),
        (edit_lines(lambda d: first(d).update(categories=["nope"])), MESSAGES, "not a category"),
        (
            edit_lines(lambda d: first(d).update(categories=["third_party"])),
            MESSAGES,
            "third_party",
        ),
        (edit_lines(lambda d: first(d).update(categories=["all", "abuse"])), MESSAGES, "all"),
        (
            edit_lines(lambda d: first(d)["contacts"][0].update(number="call us")),
            MESSAGES,
            "dial",
        ),
        (
            edit_lines(lambda d: first(d)["contacts"][2].update(url="http://988lifeline.org")),
            MESSAGES,
            "https",
        ),
        (edit_lines(lambda d: first(d)["contacts"].append({"kind": "fax"})), MESSAGES, "kind"),
        (
            edit_lines(lambda d: first(d)["contacts"][0].update(keyword="HOME")),
            MESSAGES,
            "unknown keys",
        ),
        (edit_lines(lambda d: first(d).update(catagories=["all"])), MESSAGES, "unknown keys"),
        (edit_lines(lambda d: first(d).pop("hours")), MESSAGES, "missing"),
        (edit_lines(lambda d: first(d).update(name="")), MESSAGES, "non-empty"),
        (edit_lines(lambda d: first(d).update(names={"es": 1})), MESSAGES, "non-empty"),
        (
            edit_lines(
                lambda d: d.update(
                    resources=[r for r in d["resources"] if r["id"] != "us-emergency"]
                )
            ),
            MESSAGES,
            "US has no emergency entry",
        ),
        (
            edit_lines(lambda d: d.update(resources=[r for r in d["resources"] if r["country"]])),
            MESSAGES,
            "no international fallback",
        ),
        (
            edit_lines(lambda d: first(d).update(emergency=True)),
            MESSAGES,
            "two emergency entries",
        ),
        (edit_lines(lambda d: d.pop("note")), MESSAGES, "note"),
        (LINES, edit_messages(lambda d: d.update(version="2020.1.1")), "same version"),
        (LINES, edit_messages(lambda d: d["languages"].pop("en")), "'en'"),
        (LINES, edit_messages(lambda d: english(d).pop("substance")), "exactly"),
        (LINES, edit_messages(lambda d: english(d)["self"].pop("high")), "exactly"),
        (
            LINES,
            edit_messages(lambda d: english(d)["self"].update(low="Call {number} {line}")),
            "unknown placeholder",
        ),
        (
            LINES,
            edit_messages(lambda d: english(d)["self"].update(low="Call {line!r}")),
            "unknown placeholder",
        ),
        (
            LINES,
            edit_messages(lambda d: english(d)["self"].update(low="Call {line")),
            "expected '}'",
        ),
        (
            LINES,
            edit_messages(lambda d: english(d)["self"].update(low="You're not alone.")),
            "point to",
        ),
        (
            LINES,
            edit_messages(lambda d: english(d)["self"].update(high="Reach out to {line}.")),
            "emergency",
        ),
        (
            LINES,
            edit_messages(lambda d: english(d)["self"].update(low="{line} " + "x" * 600)),
            "longer than",
        ),
    ],
)
def test_invalid_data_is_refused_with_the_reason(
    lines: dict[str, Any], messages: dict[str, Any], complaint: str
) -> None:
    with pytest.raises(ResourceDataError, match=re.escape(complaint)):
        CrisisDirectory(lines, messages)


def test_invalid_packaged_json_is_refused_at_load(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "resources").mkdir()
    (tmp_path / "resources" / LINES_FILE).write_text(json.dumps(LINES), encoding="utf-8")
    (tmp_path / "resources" / MESSAGES_FILE).write_text("{not json", encoding="utf-8")
    monkeypatch.setattr(resources_module, "files", lambda package: tmp_path)

    with pytest.raises(ResourceDataError, match=r"messages\.json: not valid JSON"):
        CrisisDirectory.load()


# -- the messages -------------------------------------------------------------------------


@pytest.mark.parametrize("key", sorted(TEMPLATES), ids="-".join)
def test_every_message_template_formats(key: tuple[str, str, str]) -> None:
    template = TEMPLATES[key]
    fields = {name for _, name, _, _ in Formatter().parse(template) if name is not None}

    message = template.format(line="Samaritans (116 123)", emergency="999")

    assert fields <= {"line", "emergency"}
    assert "Samaritans (116 123)" in message
    assert "{" not in message
    assert "}" not in message


@pytest.mark.parametrize("language", ["en", "es"])
def test_every_referral_message_is_whole(language: str) -> None:
    for country in [*directory.countries, None]:
        for category in Category:
            for severity in Severity:
                for about_someone_else in (False, True):
                    referral = refer(
                        category,
                        severity,
                        about_someone_else=about_someone_else,
                        country=country,
                        languages=[language],
                    )
                    assert referral.language == language
                    assert "{" not in referral.message
                    assert "}" not in referral.message
                    assert referral.resources[0].name in referral.message


# Words for a means or a method, which safe-messaging guidance keeps out of a message to
# someone at risk, and words that judge.
METHOD_WORDS = re.compile(
    r"\b(?:pills?|tablets?|overdos\w*|dose|lethal|rope|noose|hang\w*|guns?|firearms?|shoot\w*"
    r"|knife|knives|blades?|razors?|cut|cuts|cutting|bridges?|jump\w*|poison\w*|bleach"
    r"|drown\w*|suffocat\w*|trains?|tylenol|paracetamol|commit\w*|selfish|attention"
    r"|pastillas?|sobredosis|dosis|letal|cuerdas?|sogas?|ahorc\w*|pistolas?|armas?"
    r"|cuchill\w*|navajas?|cort\w*|puentes?|salt[aeo]\w*|venenos?|lejía|ahog\w*|trenes"
    r"|egoísta|llamar la atención)\b",
    re.IGNORECASE,
)


@pytest.mark.parametrize("key", sorted(TEMPLATES), ids="-".join)
def test_no_message_mentions_a_method(key: tuple[str, str, str]) -> None:
    assert not METHOD_WORDS.search(TEMPLATES[key])


def test_the_method_word_check_would_catch_one() -> None:
    assert METHOD_WORDS.search("Put the pills away and call someone.")
    assert METHOD_WORDS.search("Aléjate del puente.")
    assert not METHOD_WORDS.search(TEMPLATES["en", "self", "high"])


def test_serious_messages_invite_reaching_out_now() -> None:
    for language, kind, band in TEMPLATES:
        if band == "high":
            assert "{emergency}" in TEMPLATES[language, kind, band]
    assert "now" in refer(Category.SUICIDE, Severity.CRITICAL, country="US").message
