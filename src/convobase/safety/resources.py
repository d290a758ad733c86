"""The crisis lines and the supportive message to answer a flagged message with.

`default_directory().referral(category, severity, about_someone_else=..., country=...,
languages=...)` answers a `Referral`: a short message in the person's language, after
safe-messaging guidance, and at most three resources to show (a line for that kind of
risk, the country's crisis lines, its emergency number when it is serious). What was
shown is stored (`Referral.resources_shown()`), so that referrals can be counted.

The lines and messages are package data in convobase/safety/resources/, validated once
when the directory is built. The choice is pure and deterministic: no database, no
network, and the same arguments always get the same referral.
"""

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cache
from importlib.resources import files
from itertools import islice
from string import Formatter
from typing import Any, Literal, get_args

from convobase.safety.detector import Category, Severity

# The data files: package data in convobase/safety/resources/.
RESOURCES_PACKAGE = "convobase.safety"
RESOURCES_DIRECTORY = "resources"
LINES_FILE = "crisis_lines.json"
MESSAGES_FILE = "messages.json"

DEFAULT_LANGUAGE = "en"
# Resources shown at most, the emergency number included: someone in crisis needs one
# or two numbers to call, not a list to read.
MAX_RESOURCES = 3
# Lines for the kind of risk (abuse, eating disorder...) shown at most, before the
# general crisis lines, which are always shown.
MAX_SPECIFIC = 1
# An Accept-Language header is read up to this many characters and items, and this many
# language tags are kept: a real one is a few dozen characters, so longer is junk, and
# the work stays bounded whatever a client sends.
MAX_HEADER = 1024
MAX_ITEMS = 64
MAX_TAGS = 16
# A message longer than this is not a short supportive message any more.
MAX_MESSAGE = 600

ContactKind = Literal["phone", "sms", "chat", "web"]
MessageKind = Literal[
    "self", "abuse", "eating_disorder", "substance", "harm_to_others", "someone_else"
]
Band = Literal["low", "high"]
CONTACT_KINDS: tuple[ContactKind, ...] = get_args(ContactKind)
MESSAGE_KINDS: tuple[MessageKind, ...] = get_args(MessageKind)
BANDS: tuple[Band, ...] = get_args(Band)
NUMBERED: frozenset[str] = frozenset({"phone", "sms"})

# The message for a finding about the writer; a report about someone else gets the
# helper's message ("someone_else") whatever the risk.
KIND_OF_CATEGORY: dict[Category, MessageKind] = {
    Category.SUICIDE: "self",
    Category.SELF_HARM: "self",
    Category.ABUSE: "abuse",
    Category.EATING_DISORDER: "eating_disorder",
    Category.SUBSTANCE: "substance",
    Category.HARM_TO_OTHERS: "harm_to_others",
}
# A line that fits every kind of risk: a general crisis line.
ALL = "all"
PLACEHOLDERS = frozenset({"line", "emergency"})

RESOURCE_KEYS = frozenset(
    {"id", "name", "names", "country", "languages", "categories", "contacts", "hours"}
    | {"emergency", "notes"}
)
REQUIRED_RESOURCE_KEYS = frozenset(
    {"id", "name", "country", "languages", "categories", "contacts", "hours"}
)
LINES_KEYS = frozenset({"version", "about", "note", "resources"})
MESSAGES_KEYS = frozenset({"version", "about", "languages"})
LANGUAGE_KEYS = frozenset({"emergency_fallback", "messages"})

# A language tag as people and browsers write them: a 2-3 letter language, then subtags.
LANGUAGE_TAG = re.compile(r"[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8}){0,7}")
PRIMARY_LANGUAGE = re.compile(r"[a-z]{2,3}")
COUNTRY_CODE = re.compile(r"[A-Z]{2}")
# "en-UK" and a preference of "UK" are common, though the ISO code is GB.
COUNTRY_ALIASES = {"UK": "GB"}
QUALITY = re.compile(r"0(?:\.[0-9]{0,3})?|1(?:\.0{0,3})?")
RESOURCE_ID = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
NUMBER = re.compile(r"[0-9*#+() .-]{2,32}")
KEYWORD = re.compile(r"[A-Za-z0-9]{1,20}")
URL = re.compile(r"https://[A-Za-z0-9.-]+\.[A-Za-z]{2,}(?:/[^\s]*)?")


class ResourceDataError(ValueError):
    """Crisis lines or messages that do not validate: the message says which entry and why."""


@dataclass(frozen=True, slots=True)
class Contact:
    """One way to reach a resource: a number to call or text, or an address to open."""

    kind: ContactKind
    # The number as people dial it (phone, sms) or the https address (chat, web).
    value: str
    # The word to text, for sms ("HOME" to 741741).
    keyword: str | None = None

    def to_dict(self) -> dict[str, str]:
        """Return the contact as shown: kind, then number (and keyword) or url."""
        shown = {"kind": self.kind, "number" if self.kind in NUMBERED else "url": self.value}
        if self.keyword is not None:
            shown["keyword"] = self.keyword
        return shown


@dataclass(frozen=True, slots=True)
class CrisisResource:
    """A crisis line, or a country's emergency number, as shown in one language."""

    id: str
    name: str
    # ISO 3166-1 alpha-2; None for an international resource.
    country: str | None
    # The primary language tags the line answers in.
    languages: tuple[str, ...]
    # Category values, or ("all",) for a general crisis line.
    categories: tuple[str, ...]
    contacts: tuple[Contact, ...]
    # "24/7", or None when the hours are not known for certain (check the website).
    hours: str | None
    emergency: bool = False
    note: str | None = None

    @property
    def general(self) -> bool:
        """Whether this is a general crisis line, for every kind of risk."""
        return ALL in self.categories

    def to_dict(self) -> dict[str, Any]:
        """Return what is shown as a JSON-ready dict (as stored in `resources_shown`)."""
        return {
            "id": self.id,
            "name": self.name,
            "country": self.country,
            "languages": list(self.languages),
            "categories": list(self.categories),
            "contacts": [contact.to_dict() for contact in self.contacts],
            "hours": self.hours,
            "emergency": self.emergency,
            "note": self.note,
        }


@dataclass(frozen=True, slots=True)
class Referral:
    """What to answer a flagged message with: a supportive message and the resources."""

    message: str
    resources: tuple[CrisisResource, ...]
    # The message's language (and the resources' names and notes).
    language: str
    # The country whose lines are shown; None when it is the international directory.
    country: str | None

    def resources_shown(self) -> list[dict[str, Any]]:
        """Return the resources as stored with the crisis event, in the order shown."""
        return [resource.to_dict() for resource in self.resources]


@dataclass(frozen=True, slots=True)
class _Entry:
    """A resource of the data with its names and notes in every language, and its place."""

    resource: CrisisResource
    names: Mapping[str, str]
    notes: Mapping[str, str]
    order: int

    def shown(self, language: str) -> CrisisResource:
        return replace(
            self.resource,
            name=self.names.get(language, self.resource.name),
            note=self.notes.get(language),
        )


@dataclass(frozen=True, slots=True)
class _Messages:
    """One language's message templates and its words for an unknown emergency number."""

    emergency_fallback: str
    templates: Mapping[tuple[MessageKind, Band], str]


# -- language tags and countries --------------------------------------------------------


def canonical_language_tag(tag: object) -> str | None:
    """Return a language tag in its usual case ("es-ES", "zh-Hant-TW"), or None if invalid."""
    if not isinstance(tag, str):
        return None
    # Locale-style preferences ("es_ES") are common enough to accept.
    tag = tag.strip().replace("_", "-")
    if not LANGUAGE_TAG.fullmatch(tag):
        return None
    primary, *subtags = tag.split("-")
    parts = [primary.lower()]
    for subtag in subtags:
        if len(subtag) == 2 and subtag.isalpha():
            parts.append(subtag.upper())
        elif len(subtag) == 4 and subtag.isalpha():
            parts.append(subtag.title())
        else:
            parts.append(subtag.lower())
    return "-".join(parts)


def parse_accept_language(header: str | None) -> list[str]:
    """Return the language tags of an Accept-Language header, most preferred first."""
    if not isinstance(header, str):
        return []
    weighted: list[tuple[float, int, str]] = []
    items = islice(header[:MAX_HEADER].split(","), MAX_ITEMS)
    for position, item in enumerate(items):
        tag, _, parameters = item.partition(";")
        canonical = canonical_language_tag(tag)
        quality = _quality(parameters)
        # "*" is not a tag (it fails the pattern); q=0 means "not this one".
        if canonical is None or quality is None or quality <= 0:
            continue
        weighted.append((-quality, position, canonical))
    tags: list[str] = []
    for _, _, tag in sorted(weighted):
        if tag not in tags:
            tags.append(tag)
    return tags[:MAX_TAGS]


def _quality(parameters: str) -> float | None:
    quality = 1.0
    for parameter in parameters.split(";"):
        name, _, value = parameter.partition("=")
        if name.strip().lower() != "q":
            continue
        if not QUALITY.fullmatch(value.strip()):
            return None
        quality = float(value)
    return quality


def _country_code(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    code = value.strip().upper()
    if not COUNTRY_CODE.fullmatch(code):
        return None
    return COUNTRY_ALIASES.get(code, code)


def _region(tag: str) -> str | None:
    for subtag in tag.split("-")[1:]:
        if len(subtag) == 1:  # an extension or private use: no region after it
            return None
        if len(subtag) == 2 and subtag.isalpha():
            return COUNTRY_ALIASES.get(subtag, subtag)
    return None


def _language_tags(languages: object) -> list[str]:
    # A string is one tag or a whole header, not a sequence of one-letter tags.
    if isinstance(languages, str):
        return parse_accept_language(languages)
    if not isinstance(languages, Iterable):
        return []
    tags: list[str] = []
    for item in islice(languages, MAX_TAGS):
        tag = canonical_language_tag(item)
        if tag is not None and tag not in tags:
            tags.append(tag)
    return tags


# -- loading and validating the data ----------------------------------------------------


def load_resource_files() -> tuple[dict[str, Any], dict[str, Any]]:
    """Return the crisis lines and the messages shipped in convobase/safety/resources/."""
    directory = files(RESOURCES_PACKAGE).joinpath(RESOURCES_DIRECTORY)
    loaded: list[dict[str, Any]] = []
    for name in (LINES_FILE, MESSAGES_FILE):
        try:
            loaded.append(json.loads(directory.joinpath(name).read_text(encoding="utf-8")))
        except json.JSONDecodeError as error:
            raise ResourceDataError(f"{name}: not valid JSON: {error}") from None
    return loaded[0], loaded[1]


def _object(value: Any, where: str, keys: frozenset[str]) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ResourceDataError(f"{where}: expected an object")
    unknown = sorted(set(value) - keys)
    if unknown:
        raise ResourceDataError(f"{where}: unknown keys {unknown}")
    return value


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ResourceDataError(f"{where}: expected a non-empty string")
    return value


def _language(value: Any, where: str) -> str:
    if not isinstance(value, str) or not PRIMARY_LANGUAGE.fullmatch(value):
        raise ResourceDataError(f"{where}: {value!r} is not a lower-case primary language tag")
    return value


def _by_language(value: Any, where: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ResourceDataError(f"{where}: expected an object of texts by language")
    return {
        _language(language, where): _text(text, f"{where}.{language}")
        for language, text in value.items()
    }


def _categories(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not value:
        raise ResourceDataError(f"{where}: expected a non-empty list")
    if value == [ALL]:
        return (ALL,)
    categories: list[str] = []
    for item in value:
        try:
            category = Category(item)
        except ValueError:
            raise ResourceDataError(
                f'{where}: {item!r} is not a category (or ["all"] alone)'
            ) from None
        if category is Category.THIRD_PARTY:
            raise ResourceDataError(f"{where}: third_party is not a kind of risk")
        if category.value in categories:
            raise ResourceDataError(f"{where}: {item!r} twice")
        categories.append(category.value)
    return tuple(categories)


def _contact(value: Any, where: str) -> Contact:
    if not isinstance(value, Mapping) or value.get("kind") not in CONTACT_KINDS:
        raise ResourceDataError(f"{where}: a contact needs a kind, one of {CONTACT_KINDS}")
    kind: ContactKind = value["kind"]
    if kind in NUMBERED:
        allowed = {"kind", "number", "keyword"} if kind == "sms" else {"kind", "number"}
        _object(value, where, frozenset(allowed))
        number = value.get("number")
        if (
            not isinstance(number, str)
            or not NUMBER.fullmatch(number)
            or sum(char.isdigit() for char in number) < 2
        ):
            raise ResourceDataError(f"{where}: {number!r} is not a number people can dial")
        keyword = value.get("keyword")
        if keyword is not None and (not isinstance(keyword, str) or not KEYWORD.fullmatch(keyword)):
            raise ResourceDataError(f"{where}: {keyword!r} is not a word to text")
        return Contact(kind, number, keyword)
    _object(value, where, frozenset({"kind", "url"}))
    url = value.get("url")
    if not isinstance(url, str) or not URL.fullmatch(url):
        raise ResourceDataError(f"{where}: {url!r} is not an https address")
    return Contact(kind, url)


def _entry(value: Any, order: int) -> _Entry:
    where = f"{LINES_FILE}: resource {order}"
    data = _object(value, where, RESOURCE_KEYS)
    missing = sorted(REQUIRED_RESOURCE_KEYS - set(data))
    if missing:
        raise ResourceDataError(f"{where}: missing {missing}")
    identifier = data["id"]
    if not isinstance(identifier, str) or not RESOURCE_ID.fullmatch(identifier):
        raise ResourceDataError(f"{where}: id {identifier!r} must be lower-case words and '-'")
    where = f"{LINES_FILE}: {identifier}"
    country = data["country"]
    if country is not None and (
        not isinstance(country, str) or not COUNTRY_CODE.fullmatch(country)
    ):
        raise ResourceDataError(f"{where}: country {country!r} is not an ISO 3166-1 code or null")
    languages = data["languages"]
    if not isinstance(languages, list) or not languages:
        raise ResourceDataError(f"{where}: languages must be a non-empty list")
    contacts = data["contacts"]
    if not isinstance(contacts, list) or not contacts:
        raise ResourceDataError(f"{where}: contacts must be a non-empty list")
    hours = data["hours"]
    if hours is not None:
        hours = _text(hours, f"{where}: hours")
    emergency = data.get("emergency", False)
    if not isinstance(emergency, bool):
        raise ResourceDataError(f"{where}: emergency must be true or false")
    resource = CrisisResource(
        id=identifier,
        name=_text(data["name"], f"{where}: name"),
        country=country,
        languages=tuple(_language(language, f"{where}: languages") for language in languages),
        categories=_categories(data["categories"], f"{where}: categories"),
        contacts=tuple(
            _contact(contact, f"{where}: contact {index}") for index, contact in enumerate(contacts)
        ),
        hours=hours,
        emergency=emergency,
    )
    if emergency and (
        country is None
        or not resource.general
        or not any(contact.kind == "phone" for contact in resource.contacts)
    ):
        raise ResourceDataError(
            f'{where}: an emergency entry needs a country, ["all"] and a phone number'
        )
    return _Entry(
        resource=resource,
        names=_by_language(data.get("names"), f"{where}: names"),
        notes=_by_language(data.get("notes"), f"{where}: notes"),
        order=order,
    )


def _template(value: Any, where: str, band: Band) -> str:
    template = _text(value, where)
    try:
        fields = [
            (name, spec, conversion)
            for _, name, spec, conversion in Formatter().parse(template)
            if name is not None
        ]
    except ValueError as error:
        raise ResourceDataError(f"{where}: {error}") from None
    for name, spec, conversion in fields:
        if name not in PLACEHOLDERS or spec or conversion:
            raise ResourceDataError(f"{where}: unknown placeholder {{{name}}}")
    names = {name for name, _, _ in fields}
    # Every message points to a line; a serious one also says to call for help now.
    if "line" not in names:
        raise ResourceDataError(f"{where}: a message must point to {{line}}")
    if band == "high" and "emergency" not in names:
        raise ResourceDataError(f"{where}: a high-severity message must give {{emergency}}")
    if len(template) > MAX_MESSAGE:
        raise ResourceDataError(f"{where}: longer than {MAX_MESSAGE} characters")
    return template


def _messages(data: Mapping[str, Any]) -> dict[str, _Messages]:
    languages = data.get("languages")
    if not isinstance(languages, Mapping) or DEFAULT_LANGUAGE not in languages:
        raise ResourceDataError(
            f"{MESSAGES_FILE}: languages must be an object with {DEFAULT_LANGUAGE!r}"
        )
    parsed: dict[str, _Messages] = {}
    for language, value in languages.items():
        where = f"{MESSAGES_FILE}: {language}"
        _language(language, where)
        entry = _object(value, where, LANGUAGE_KEYS)
        messages = entry.get("messages")
        if not isinstance(messages, Mapping) or set(messages) != set(MESSAGE_KINDS):
            raise ResourceDataError(f"{where}: messages must have exactly {list(MESSAGE_KINDS)}")
        templates: dict[tuple[MessageKind, Band], str] = {}
        for kind in MESSAGE_KINDS:
            bands = messages[kind]
            if not isinstance(bands, Mapping) or set(bands) != set(BANDS):
                raise ResourceDataError(f"{where}: {kind} must have exactly {list(BANDS)}")
            for band in BANDS:
                templates[kind, band] = _template(bands[band], f"{where}: {kind}.{band}", band)
        parsed[language] = _Messages(
            emergency_fallback=_text(
                entry.get("emergency_fallback"), f"{where}: emergency_fallback"
            ),
            templates=templates,
        )
    return parsed


# -- the directory ----------------------------------------------------------------------


class CrisisDirectory:
    """The crisis lines and messages, validated; build it once, then call `referral` freely."""

    def __init__(self, lines: Mapping[str, Any], messages: Mapping[str, Any]) -> None:
        lines = _object(lines, LINES_FILE, LINES_KEYS)
        messages = _object(messages, MESSAGES_FILE, MESSAGES_KEYS)
        version = _text(lines.get("version"), f"{LINES_FILE}: version")
        if messages.get("version") != version:
            raise ResourceDataError(
                f"{MESSAGES_FILE} and {LINES_FILE} must carry the same version: "
                f"{messages.get('version')!r} and {version!r}"
            )
        self.version: str = version
        self.note: str = _text(lines.get("note"), f"{LINES_FILE}: note")
        resources = lines.get("resources")
        if not isinstance(resources, list) or not resources:
            raise ResourceDataError(f"{LINES_FILE}: resources must be a non-empty list")
        entries = [_entry(value, order) for order, value in enumerate(resources)]
        self._by_id: dict[str, _Entry] = {}
        # Each country's lines (None: the international ones), and its emergency entry.
        self._lines: dict[str | None, list[_Entry]] = {}
        self._emergency: dict[str, _Entry] = {}
        for entry in entries:
            resource = entry.resource
            if resource.id in self._by_id:
                raise ResourceDataError(f"{LINES_FILE}: {resource.id} twice")
            self._by_id[resource.id] = entry
            if resource.emergency and resource.country is not None:  # _entry: always a country
                if resource.country in self._emergency:
                    raise ResourceDataError(
                        f"{LINES_FILE}: {resource.country} has two emergency entries"
                    )
                self._emergency[resource.country] = entry
            else:
                self._lines.setdefault(resource.country, []).append(entry)
        # A country that is listed always gets a general line and an emergency number,
        # and everyone else gets the international directory.
        for country in sorted(set(self._lines) | set(self._emergency), key=str):
            general = [entry for entry in self._lines.get(country, []) if entry.resource.general]
            if not general:
                where = country or "the international fallback"
                raise ResourceDataError(f"{LINES_FILE}: {where} has no general crisis line")
            if country is not None and country not in self._emergency:
                raise ResourceDataError(f"{LINES_FILE}: {country} has no emergency entry")
        if None not in self._lines:
            raise ResourceDataError(f"{LINES_FILE}: no international fallback (country null)")
        self._messages: dict[str, _Messages] = _messages(messages)
        self.languages: tuple[str, ...] = tuple(sorted(self._messages))
        self.countries: tuple[str, ...] = tuple(sorted(self._emergency))

    @classmethod
    def load(cls) -> "CrisisDirectory":
        """Build the directory from the package data (raises `ResourceDataError` if invalid)."""
        lines, messages = load_resource_files()
        return cls(lines, messages)

    def resource(self, resource_id: str, language: str = DEFAULT_LANGUAGE) -> CrisisResource:
        """Return one resource by id, named in `language` where the data has a translation."""
        return self._by_id[resource_id].shown(language)

    def referral(
        self,
        category: Category,
        severity: Severity,
        *,
        about_someone_else: bool,
        country: str | None,
        languages: Sequence[str],
    ) -> Referral:
        """Return the message and the resources to show for a flagged message."""
        tags = _language_tags(languages)
        primaries = list(dict.fromkeys(tag.split("-")[0] for tag in tags))
        language = next(
            (primary for primary in primaries if primary in self._messages), DEFAULT_LANGUAGE
        )
        # The person's own setting wins over the region of their language tags ("es-ES"):
        # a browser's "en-US" says less about where someone is than they do.
        code = _country_code(country)
        if code is None:
            code = next((region for region in map(_region, tags) if region), None)
        chosen = code if code in self._lines else None
        serious = severity >= Severity.HIGH
        someone_else = about_someone_else or category == Category.THIRD_PARTY
        kind: MessageKind = (
            "someone_else" if someone_else else KIND_OF_CATEGORY.get(category, "self")
        )

        def rank(entry: _Entry) -> tuple[int, int]:
            return _language_rank(entry.resource, primaries), entry.order

        lines = self._lines[chosen]
        specific = sorted(
            (entry for entry in lines if category in entry.resource.categories), key=rank
        )[:MAX_SPECIFIC]
        general = sorted((entry for entry in lines if entry.resource.general), key=rank)
        if primaries:
            # A line in none of the person's languages is shown only when the country
            # has nothing better: one line they may struggle with beats none.
            served = [
                entry
                for entry in general
                if _language_rank(entry.resource, primaries) < len(primaries)
            ]
            general = served or general[:1]
        emergency = self._emergency.get(chosen) if chosen is not None else None
        # The emergency number comes last, and only when it is serious: earlier, it
        # would crowd out a line that can listen.
        last = [emergency] if serious and emergency is not None else []
        picked = [*specific, *general][: MAX_RESOURCES - len(last)] + last
        resources = tuple(entry.shown(language) for entry in picked)
        messages = self._messages[language]
        template = messages.templates[kind, "high" if serious else "low"]
        message = template.format(
            line=_line(resources),
            emergency=(
                _first_number(emergency.resource)
                if emergency is not None
                else messages.emergency_fallback
            ),
        )
        return Referral(message=message, resources=resources, language=language, country=chosen)


def _language_rank(resource: CrisisResource, primaries: Sequence[str]) -> int:
    for index, language in enumerate(primaries):
        if language in resource.languages:
            return index
    return len(primaries)


def _first_number(resource: CrisisResource) -> str:
    return next(contact.value for contact in resource.contacts if contact.kind == "phone")


def _line(resources: Iterable[CrisisResource]) -> str:
    # The first line shown, named with its number (or address) so the message alone
    # is enough to reach it.
    resource = next(resource for resource in resources if not resource.emergency)
    for kinds in (("phone",), ("chat", "web")):
        for contact in resource.contacts:
            if contact.kind in kinds:
                shown = contact.value.removeprefix("https://").removesuffix("/")
                # "024 Línea de atención..." already says its number.
                return resource.name if shown in resource.name else f"{resource.name} ({shown})"
    return resource.name


@cache
def default_directory() -> CrisisDirectory:
    """Return the directory built from the shipped data (built once per process)."""
    return CrisisDirectory.load()
