"""A rule-based screen of a user's message for signs of crisis, built from lexicon files.

`Detector().detect(text, recent=...)` answers `None` or a `Screening`: what kind of risk,
how severe (after the Columbia Suicide Severity Rating Scale's triage), the lexicon
phrases that matched, and whether the message is about someone else. It reads words,
not minds: docs/safety-detector.md says what it can and cannot see.

Matching happens on `match_key(text)` (see normalize.py). Each lexicon phrase is a small
pattern language compiled to one regular expression; a phrase only runs when a word of
the message begins with a word it cannot match without (a "factor"), which keeps a
message of ordinary chat to a few dictionary look-ups.
"""

import json
import re
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum
from functools import cache
from importlib.resources import files
from typing import Any, Literal, NamedTuple

from convobase.safety.normalize import (
    fold_phrase_literal,
    key_words,
    match_key,
    squeeze,
    strip_accents,
)

# The lexicon files: package data in convobase/safety/lexicon/, one JSON file a language.
LEXICON_PACKAGE = "convobase.safety"
LEXICON_DIRECTORY = "lexicon"
# Earlier turns read for context: a time, a means or a goodbye after one of these.
RECENT_TURNS = 6
# Messages longer than this are screened piece by piece, each piece ending a sentence.
PIECE = 768
# In a key longer than this, a phrase is searched for only around the words that woke it,
# WINDOW characters either side.
WINDOWED = 400
WINDOW = 160
# The prefilter's gate: the first letters of a factor.
GATE = 3
# Words longer than this are also searched inside, for factors glued to other words.
JOINED_TOKEN = 8
NEGATION_REACH = 6
# Words remembered between messages (their squeezed form and the phrases they wake).
KNOWN_WORDS = 50_000
# The most a sentence can hold besides its time of day and still be "probably tonight".
BARE_SENTENCE = 60
LOOKBACK_CHARS = 120


class LexiconError(ValueError):
    """A lexicon file that cannot be compiled: the message says which phrase and why."""


class Severity(IntEnum):
    """How urgent a screening is; ordered, so `severity >= Severity.HIGH` reads naturally."""

    LOW = 1
    MODERATE = 2
    HIGH = 3
    CRITICAL = 4

    @property
    def label(self) -> str:
        """The lower-case name used in lexicons, cases and APIs ("moderate")."""
        return self.name.lower()

    @classmethod
    def parse(cls, label: str) -> "Severity":
        """Return the severity named by a lower-case label."""
        try:
            return cls[label.upper()]
        except KeyError:
            raise ValueError(f"unknown severity {label!r}") from None


class Category(StrEnum):
    """What a screening is about; `third_party` is a report about someone else."""

    SUICIDE = "suicide"
    SELF_HARM = "self_harm"
    ABUSE = "abuse"
    EATING_DISORDER = "eating_disorder"
    SUBSTANCE = "substance"
    HARM_TO_OTHERS = "harm_to_others"
    THIRD_PARTY = "third_party"


# When two findings are equally severe, the first of these is reported.
CATEGORY_PRIORITY = (
    Category.SUICIDE,
    Category.SELF_HARM,
    Category.HARM_TO_OTHERS,
    Category.ABUSE,
    Category.EATING_DISORDER,
    Category.SUBSTANCE,
)
IDEATION = frozenset({Category.SUICIDE, Category.SELF_HARM})
# A time of day makes a plan imminent for these, not for a relapse or a skipped meal.
TIMED = frozenset({Category.SUICIDE, Category.SELF_HARM, Category.HARM_TO_OTHERS})


@dataclass(frozen=True, slots=True)
class Screening:
    """The outcome of screening one message: None from `detect` means nothing was found."""

    category: Category
    severity: Severity
    keywords: tuple[str, ...]
    lexicon_version: str
    about_someone_else: bool
    # The kind of risk itself: equal to `category` unless that is `third_party`.
    concern: Category


# ---------------------------------------------------------------------------------------
# The phrase language: words, "(a|b)" alternatives, "?" optional, "*" any word ending,
# "{macro}", "^" and "$". A space matches any run of spaces (or none: "killmyself").

Kind = Literal["finding", "modifier", "benign", "cover", "minor"]
ModifierKind = Literal["time", "means", "goodbye", "attempt", "intent"]
MODIFIER_KINDS: tuple[ModifierKind, ...] = ("time", "means", "goodbye", "attempt", "intent")
Person = Literal["self", "other"]

SEPARATOR = '[ "]*'
# What stands before a word in a key. A pattern that starts with it (rather than with a
# look-behind) lets the search jump from one separator to the next.
BOUNDARY = '[ .,;:!?"]'
BUILTINS = {
    # A quoted mention: "the word "morir"".
    "quoted": '"[^"]{0,80}"',
    # A word or a quoted phrase being talked about: "the word morir", "what does 'x' mean".
    "mention": '(?:"[^"]{0,80}"|[a-z0-9]+)',
    "word": "[a-z0-9]+",
    "digits": "[0-9]+",
    # Ten or more: "I took 30 tylenol" (not "2 tylenol for a headache").
    "dozens": "[1-9][0-9]+",
    # 1 to 999: "I only eat 300 calories".
    "hundreds": "[1-9][0-9]{0,2}",
    # Up to 60 characters of the same sentence.
    "text": "[^.!?;]{0,60}?",
    # The end of a clause: "I've written a note." but not "...a note for class".
    "end": '(?=[ "]*(?:[.!?;,:]|$))',
}
PHRASE_TOKEN = re.compile(r"\s+|[()|?*^$]|\{[a-z_0-9]+\}|[^\s()|?*^${}]+")
LITERAL = re.compile(r"[a-z0-9]+")
WORD_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789")


@dataclass(frozen=True, slots=True)
class _Node:
    op: Literal["lit", "sep", "alt", "seq", "opt", "raw", "stem"]
    text: str = ""
    children: tuple["_Node", ...] = ()


def _parse_phrase(phrase: str, macros: Mapping[str, str], depth: int = 0) -> _Node:
    tokens = PHRASE_TOKEN.findall(phrase)
    position = 0

    def fail(why: str) -> LexiconError:
        return LexiconError(f"phrase {phrase!r}: {why}")

    if "".join(tokens) != phrase:
        raise fail("unexpected '{' or '}'")

    def parse_alternatives() -> _Node:
        nonlocal position
        branches = [parse_sequence()]
        while position < len(tokens) and tokens[position] == "|":
            position += 1
            branches.append(parse_sequence())
        return branches[0] if len(branches) == 1 else _Node("alt", children=tuple(branches))

    def parse_sequence() -> _Node:
        nonlocal position
        items: list[_Node] = []
        while position < len(tokens) and tokens[position] not in ("|", ")"):
            token = tokens[position]
            position += 1
            if token.isspace():
                items.append(_Node("sep"))
            elif token == "(":
                inner = parse_alternatives()
                if position >= len(tokens) or tokens[position] != ")":
                    raise fail("unbalanced parenthesis")
                position += 1
                items.append(inner)
            elif token == "?":
                if not items or items[-1].op == "sep":
                    raise fail("'?' must follow a word or a group")
                items[-1] = _Node("opt", children=(items[-1],))
            elif token == "*":
                if not items or items[-1].op != "lit":
                    raise fail("'*' must follow a word")
                items.append(_Node("stem", "[a-z]*"))
            elif token in ("^", "$"):
                anchor = "^" if token == "^" else '(?=[ "]*[.!?;,:]*[ "]*$)'
                items.append(_Node("raw", anchor))
            elif token.startswith("{"):
                name = token[1:-1]
                if name in BUILTINS:
                    items.append(_Node("raw", BUILTINS[name]))
                elif name in macros:
                    if depth > 8:
                        raise fail(f"macro {name!r} nests too deep")
                    items.append(_parse_phrase(macros[name], macros, depth + 1))
                else:
                    raise fail(f"unknown macro {name!r}")
            else:
                literal = fold_phrase_literal(token.replace("'", "").replace("\u2019", ""))
                if not LITERAL.fullmatch(literal):
                    raise fail(f"{token!r} is not a word of letters and digits")
                items.append(_Node("lit", literal))
        return _Node("seq", children=tuple(items))

    node = parse_alternatives()
    if position != len(tokens):
        raise fail("unbalanced parenthesis")
    return node


def _first_letter(node: _Node) -> str | None:
    if node.op == "lit":
        return node.text[0]
    if node.op == "seq" and node.children:
        return _first_letter(node.children[0])
    return None


def _last_letter(node: _Node) -> str | None:
    if node.op == "lit":
        return node.text[-1]
    if node.op == "seq" and node.children:
        return _last_letter(node.children[-1])
    return None


def _letters(text: str) -> str:
    # Each letter matches a run of itself ("kil" matches "kill" and "killll"); written
    # "kk*" rather than "k+" so a pattern keeps a literal first letter to search for.
    return "".join(f"{re.escape(ch)}{re.escape(ch)}*" for ch in text)


def _emit(node: _Node) -> str:
    if node.op == "lit":
        return _letters(node.text)
    if node.op in ("raw", "stem"):
        return node.text
    if node.op == "sep":
        return SEPARATOR
    if node.op == "opt":
        return f"(?:{_emit(node.children[0])})?"
    if node.op == "alt":
        return "(?:" + "|".join(_emit(child) for child in node.children) + ")"
    parts: list[str] = []
    children = node.children
    skip_first_letter = False
    for index, child in enumerate(children):
        if skip_first_letter:
            skip_first_letter = False
            # "want to" glued is "wantto" or "wanto": the shared letter may be one.
            parts.append(_letters(child.text[1:]))
            continue
        if (
            child.op == "sep"
            and index < len(children) - 1
            and children[index + 1].text.startswith(('"', '(?:"'))
        ):
            # Before a quoted mention, leave the opening quote to the mention.
            parts.append(" *")
            continue
        if child.op == "sep" and 0 < index < len(children) - 1:
            before, after = children[index - 1], children[index + 1]
            if (
                before.op == "lit"
                and after.op == "lit"
                and _last_letter(before) == _first_letter(after)
                and len(after.text) > 1
            ):
                parts.append(f'(?:[ "]*{_letters(after.text[0])})?')
                skip_first_letter = True
                continue
        parts.append(_emit(child))
    return "".join(parts)


def _factors(
    node: _Node, common: frozenset[str], at_start: bool = True, at_end: bool = True
) -> frozenset[str] | None:
    """Return words that begin a word of every match (at least one of them), or None.

    The prefilter looks these up among the words of a message, so a factor must start a
    word: "want" in "want(s)? to" does, "s" does not. A factor ending in "*" may be
    followed by more letters ("want*" for "wants", "overdos*" for "overdosed"); one
    without must be the whole word.
    """
    if node.op == "lit":
        if not at_start:
            return None
        return frozenset({node.text if at_end else node.text + "*"})
    if node.op in ("sep", "opt", "raw", "stem"):
        return None
    if node.op == "alt":
        union: set[str] = set()
        for child in node.children:
            found = _factors(child, common, at_start, at_end)
            if found is None:
                return None
            union |= found
        return frozenset(union)
    best: frozenset[str] | None = None
    children = node.children
    for index, child in enumerate(children):
        ends_word = at_end if index == len(children) - 1 else _opens_word(children[index + 1])
        found = _factors(child, common, at_start, ends_word)
        if found is not None and (
            best is None or _factor_score(found, common) > _factor_score(best, common)
        ):
            best = found
        at_start = _starts_word_after(child, at_start)
    return best


def _starts_word_after(node: _Node, at_start: bool) -> bool:
    """Whether what follows `node` in a sequence starts a word."""
    if node.op == "sep":
        return True
    if node.op == "opt":
        return at_start and _ends_with_separator(node.children[0])
    return _ends_with_separator(node)


def _required(node: _Node, at_start: bool = True, at_end: bool = True) -> list[frozenset[str]]:
    """Return every set of whole words of which a match must contain one.

    The prefilter wakes a phrase by one factor, then checks these: "{want} kill {target}"
    runs only if the message has a "want" word, "kill" and a target word too.
    """
    if node.op == "lit" or node.op == "alt":
        found = _factors(node, frozenset(), at_start, at_end)
        # Prefixes, and letters that a contraction glues to the word before ("i'd" is
        # "id"), cannot be looked up as words.
        if found is None or any(factor.endswith("*") or len(factor) < 3 for factor in found):
            return []
        return [found]
    if node.op != "seq":
        return []
    required: list[frozenset[str]] = []
    children = node.children
    for index, child in enumerate(children):
        ends_word = at_end if index == len(children) - 1 else _opens_word(children[index + 1])
        required.extend(_required(child, at_start, ends_word))
        at_start = _starts_word_after(child, at_start)
    return required


def _opens_word(node: _Node) -> bool:
    """Whether whatever follows a word here starts a new word (or ends the phrase)."""
    if node.op in ("sep", "raw"):
        return True  # builtins and anchors ({end}, {digits}, $) follow a word boundary
    if node.op == "opt":
        return _opens_word(node.children[0])
    if node.op == "seq":
        return not node.children or _opens_word(node.children[0])
    if node.op == "alt":
        return all(_opens_word(child) for child in node.children)
    return False


def _ends_with_separator(node: _Node) -> bool:
    if node.op == "sep":
        return True
    if node.op == "seq":
        return bool(node.children) and _ends_with_separator(node.children[-1])
    if node.op == "alt":
        return all(_ends_with_separator(child) for child in node.children)
    return False


def _factor_score(factors: frozenset[str], common: frozenset[str]) -> tuple[int, int, int]:
    # A set is as good as its most frequent member: a common word ("how", "i") wakes
    # the phrase for almost every message; among words equally (un)common, a longer one
    # is rarer, and a whole word rarer than a prefix.
    words = [factor.rstrip("*") for factor in factors]
    uncommon = min(0 if word in common else 1 for word in words)
    shortest = min(len(word) for word in words)
    return (uncommon, min(shortest, 6), -len(factors))


# ---------------------------------------------------------------------------------------
# Rules and phrases compiled from the lexicon files.


@dataclass(frozen=True, slots=True)
class _Rule:
    kind: Kind
    language: str
    category: Category | None = None
    severity: Severity | None = None
    # Severity when a negation stands before the phrase; None means one level lower.
    negated: Severity | None = None
    # Severity when the writer has said they are a minor (here or in earlier turns).
    if_minor: Severity | None = None
    # Whose risk it is: the grammatical subject, the victim (abuse), or always the writer
    # (a question about methods is the asker's, whoever it names).
    person: Literal["subject", "victim", "writer"] = "subject"
    modifier: ModifierKind | None = None
    # A weak "now" or "today" only counts after the statement it times.
    after_only: bool = False


@dataclass(frozen=True, slots=True)
class _Phrase:
    text: str
    rule: _Rule
    # The phrase anywhere (its start is checked to be a word's start after the search)...
    regex: re.Pattern[str]
    # ...and after a space or punctuation, for phrases that do not begin with a fixed
    # letter: that search can skip from separator to separator, the first one from one
    # occurrence of the letter to the next.
    bounded: re.Pattern[str] | None


@dataclass(slots=True)
class _Hit:
    phrase: _Phrase
    start: int
    end: int


@dataclass(slots=True)
class _Finding:
    category: Category
    severity: Severity
    person: Person
    start: int
    end: int
    keywords: list[str]
    negated: bool = False
    rule: _Rule | None = None


PERSON_LISTS = frozenset(
    {
        "self_reflexive",
        "other_reflexive",
        "self_subject",
        "other_subject",
        "self_object",
        "other_object",
    }
)


@dataclass(frozen=True, slots=True)
class _Grammar:
    """One language's words for telling whose risk a phrase states."""

    self_reflexive: re.Pattern[str]
    other_reflexive: re.Pattern[str]
    subjects: re.Pattern[str]
    objects: re.Pattern[str]


def _alternatives(phrases: Sequence[str], macros: Mapping[str, str]) -> str:
    body = "|".join(_emit(_parse_phrase(phrase, macros)) for phrase in phrases)
    return body or "(?!x)x"


def _grammar(lists: Mapping[str, Sequence[str]], macros: Mapping[str, str]) -> _Grammar:
    def words(name: str) -> re.Pattern[str]:
        body = _alternatives(lists.get(name, ()), macros)
        return re.compile(f"(?<![a-z0-9])(?:{body})(?![a-z0-9])")

    def pair(mine: str, theirs: str) -> re.Pattern[str]:
        # One pattern, two named groups: the last match says whose it is.
        own = _alternatives(lists.get(mine, ()), macros)
        other = _alternatives(lists.get(theirs, ()), macros)
        return re.compile(f"(?<![a-z0-9])(?:(?P<self>{own})|(?P<other>{other}))(?![a-z0-9])")

    return _Grammar(
        self_reflexive=words("self_reflexive"),
        other_reflexive=words("other_reflexive"),
        subjects=pair("self_subject", "other_subject"),
        objects=pair("self_object", "other_object"),
    )


class _Known(dict[str, "_Word"]):
    """Words looked up so far, and (as a set, for fast intersections) those that wake."""

    def __init__(self) -> None:
        super().__init__()
        self.waking: set[str] = set()


class _Word(NamedTuple):
    """A word of a message, looked up: squeezed, the phrases it wakes (directly, glued)."""

    token: str
    woken: tuple[int, ...]
    glued: tuple[int, ...]


@dataclass(slots=True)
class _Scan:
    key: str
    findings: list[_Finding] = field(default_factory=list)
    modifiers: list[tuple[_Hit, Person | None]] = field(default_factory=list)
    minor: bool = False
    # Modifier phrases not searched yet (they mean nothing without a finding): each with
    # the offset and text of its piece of the key, and the words that woke it.
    deferred: list[tuple[int, str, _Phrase, list[str]]] = field(default_factory=list)


def _severity(value: Any, where: str) -> Severity:
    if not isinstance(value, str):
        raise LexiconError(f"{where}: severity must be a string")
    try:
        return Severity.parse(value)
    except ValueError as error:
        raise LexiconError(f"{where}: {error}") from None


def _category(value: Any, where: str) -> Category:
    try:
        category = Category(value)
    except ValueError:
        raise LexiconError(f"{where}: unknown category {value!r}") from None
    if category is Category.THIRD_PARTY:
        raise LexiconError(f"{where}: third_party is decided by the detector, not the lexicon")
    return category


def _strings(value: Any, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise LexiconError(f"{where}: expected a list of strings")
    return list(value)


def load_lexicons() -> list[dict[str, Any]]:
    """Return the lexicon files shipped in convobase/safety/lexicon/, one per language."""
    lexicons: list[dict[str, Any]] = []
    directory = files(LEXICON_PACKAGE).joinpath(LEXICON_DIRECTORY)
    for entry in sorted(directory.iterdir(), key=lambda item: item.name):
        if entry.name.endswith(".json"):
            lexicons.append(json.loads(entry.read_text(encoding="utf-8")))
    return lexicons


class Detector:
    """Screens messages against the lexicons; build it once, then call `detect` freely."""

    def __init__(self, lexicons: Sequence[Mapping[str, Any]] | None = None) -> None:
        chosen = load_lexicons() if lexicons is None else list(lexicons)
        if not chosen:
            raise LexiconError("no lexicon to build a detector from")
        versions = {lexicon.get("version") for lexicon in chosen}
        if len(versions) != 1 or not isinstance(next(iter(versions)), str):
            raise LexiconError(f"every lexicon file must carry the same version: {versions}")
        self.lexicon_version: str = str(next(iter(versions)))
        languages = [lexicon.get("language") for lexicon in chosen]
        if not all(isinstance(language, str) and language for language in languages):
            raise LexiconError(f"every lexicon file must name its language: {languages}")
        self.languages: tuple[str, ...] = tuple(str(language) for language in languages)
        self._phrases: list[_Phrase] = []
        self._required: list[tuple[frozenset[str], ...]] = []
        self._always: list[int] = []
        word_lists: dict[str, list[str]] = {}
        self._grammars: dict[str, _Grammar] = {}
        pending: list[tuple[int, frozenset[str]]] = []
        common = frozenset(
            fold_phrase_literal(word)
            for lexicon in chosen
            for word in _strings(lexicon.get("common_words", []), "common_words")
        )
        glued_words = tuple(
            fold_phrase_literal(word)
            for lexicon in chosen
            for word in _strings(lexicon.get("glued", []), "glued")
        )
        for lexicon in chosen:
            for phrase, rule, node in self._rules_of(lexicon):
                index = len(self._phrases)
                try:
                    body = _emit(node) + "(?![a-z0-9])"
                    regex = re.compile(body)
                    bounded = None if _first_letter(node) else re.compile(BOUNDARY + body)
                except re.error as error:
                    raise LexiconError(f"phrase {phrase!r}: {error}") from None
                factors = _factors(node, common)
                self._phrases.append(_Phrase(phrase, rule, regex, bounded))
                self._required.append(tuple(_required(node)))
                if factors is None:
                    self._always.append(index)
                else:
                    pending.append((index, factors))
            lists = self._word_lists_of(lexicon)
            for name, words in lists.items():
                if name not in PERSON_LISTS:
                    word_lists.setdefault(name, []).extend(words)
            self._grammars[str(lexicon["language"])] = _grammar(lists, lexicon.get("macros", {}))
        self._index(pending, glued_words)
        self._known = _Known()
        self._words = {name: frozenset(words) for name, words in word_lists.items()}
        self._minor_phrases = [phrase for phrase in self._phrases if phrase.rule.kind == "minor"]

    # -- building ------------------------------------------------------------------------

    def _index(
        self, pending: Sequence[tuple[int, frozenset[str]]], glued_words: tuple[str, ...]
    ) -> None:
        """Build the prefilter: which words of a message wake which phrases."""
        # A phrase runs only if a word of the message is one of its factors (or, for a
        # factor marked "*", begins with it). Long glued words ("#iwanttodie") are
        # searched inside for factors that begin with the lexicon's "glued" words.
        whole: dict[str, set[int]] = {}
        prefixes: dict[str, dict[str, set[int]]] = {}
        inside: dict[str, dict[str, set[int]]] = {}
        for index, factors in pending:
            for factor in factors:
                bare = factor.rstrip("*")
                if factor.endswith("*"):
                    prefixes.setdefault(bare[:GATE], {}).setdefault(bare, set()).add(index)
                else:
                    whole.setdefault(bare, set()).add(index)
                # Only these: the search costs, and these are what hashtags hide.
                if len(bare) >= GATE and bare.startswith(glued_words):
                    inside.setdefault(bare[:GATE], {}).setdefault(bare, set()).add(index)

        def grouped(found: dict[str, dict[str, set[int]]]) -> dict[str, Any]:
            return {
                gate: tuple((bare, tuple(sorted(ids))) for bare, ids in sorted(words.items()))
                for gate, words in found.items()
            }

        self._whole = {word: tuple(sorted(ids)) for word, ids in whole.items()}
        by_gate = grouped(prefixes)
        self._prefixes: dict[str, tuple[tuple[str, tuple[int, ...]], ...]] = {
            gate: found for gate, found in by_gate.items() if len(gate) == GATE
        }
        # Prefix factors shorter than a gate ("od*") are few: tested one by one.
        self._short_prefixes: tuple[tuple[str, tuple[int, ...]], ...] = tuple(
            entry for gate, found in by_gate.items() if len(gate) < GATE for entry in found
        )
        self._short_openings = tuple(bare for bare, _ in self._short_prefixes)
        self._inside: dict[str, tuple[tuple[str, tuple[int, ...]], ...]] = grouped(inside)
        self._inside_gates = re.compile(_trie(self._inside) or "(?!x)x")
        # The first letters of every factor: a word that begins otherwise wakes nothing.
        self._openings = frozenset(word[:GATE] for word in self._whole) | frozenset(self._prefixes)

    @staticmethod
    def _rules_of(lexicon: Mapping[str, Any]) -> Iterator[tuple[str, _Rule, _Node]]:
        language = str(lexicon.get("language", "?"))
        macros = lexicon.get("macros", {})
        if not isinstance(macros, dict):
            raise LexiconError(f"{language}: macros must be an object")

        def compiled(phrases: list[str], rule: _Rule) -> Iterator[tuple[str, _Rule, _Node]]:
            for phrase in phrases:
                yield phrase, rule, _parse_phrase(phrase, macros)

        for number, entry in enumerate(lexicon.get("rules", [])):
            where = f"{language} rule {number + 1}"
            negated = entry.get("negated")
            if_minor = entry.get("if_minor")
            person = entry.get("person", "subject")
            if person not in ("subject", "victim", "writer"):
                raise LexiconError(f"{where}: person must be 'subject', 'victim' or 'writer'")
            rule = _Rule(
                "finding",
                language,
                category=_category(entry.get("category"), where),
                severity=_severity(entry.get("severity"), where),
                negated=None if negated is None else _severity(negated, where),
                if_minor=None if if_minor is None else _severity(if_minor, where),
                person=person,
            )
            yield from compiled(_strings(entry.get("phrases"), where), rule)
        for number, entry in enumerate(lexicon.get("modifiers", [])):
            where = f"{language} modifier {number + 1}"
            kind = entry.get("kind")
            if kind == "minor":
                yield from compiled(_strings(entry.get("phrases"), where), _Rule("minor", language))
                continue
            if kind not in MODIFIER_KINDS:
                raise LexiconError(f"{where}: unknown modifier kind {kind!r}")
            alone = entry.get("alone")
            rule = _Rule(
                "modifier",
                language,
                category=None if alone is None else _category(alone.get("category"), where),
                severity=None if alone is None else _severity(alone.get("severity"), where),
                modifier=kind,
                after_only=bool(entry.get("after_only", False)),
            )
            yield from compiled(_strings(entry.get("phrases"), where), rule)
        benign = _Rule("benign", language)
        yield from compiled(_strings(lexicon.get("benign", []), f"{language} benign"), benign)
        cover = _Rule("cover", language)
        yield from compiled(_strings(lexicon.get("covers", []), f"{language} covers"), cover)

    @staticmethod
    def _word_lists_of(lexicon: Mapping[str, Any]) -> dict[str, list[str]]:
        language = str(lexicon.get("language", "?"))
        lists: dict[str, list[str]] = {}
        for section in ("negation", "subjects"):
            entries = lexicon.get(section, {})
            if not isinstance(entries, dict):
                raise LexiconError(f"{language}: {section} must be an object")
            for name, words in entries.items():
                lists[name] = _strings(words, f"{language} {section}.{name}")
        for name in ("clause_breaks", "fillers"):
            lists[name] = _strings(lexicon.get(name, []), f"{language} {name}")
        folded: dict[str, list[str]] = {}
        for name, words in lists.items():
            if name in PERSON_LISTS:
                folded[name] = words  # phrases, compiled by _grammar
            else:
                # Both spellings: a message's words are compared as written ("will"),
                # the lexicon's literals squeezed ("wil").
                folded[name] = [
                    form
                    for word in words
                    for form in (fold_phrase_literal(word), strip_accents(word.lower()))
                ]
        return folded

    # -- scanning ------------------------------------------------------------------------

    def _lookup(self, words: set[str]) -> "_Known":
        """Return the words looked up: their squeezed form and the phrases they wake.

        Words are remembered (up to KNOWN_WORDS of them), so chat's everyday vocabulary is
        looked up once per process, not once per message.
        """
        known = self._known
        fresh = [word for word in words if word not in known]
        if not fresh:
            return known
        if len(known) + len(fresh) > KNOWN_WORDS:
            # Start afresh rather than evict: a new dictionary, so a screening running
            # in another thread keeps the one it holds. It needs all of these words.
            known = self._known = _Known()
            fresh = list(words)
        # Squeeze the new words in one go: "killll" is the factor "kil".
        squeezed = squeeze(" ".join(fresh)).split(" ")
        whole, prefixes = self._whole, self._prefixes
        openings, short_openings = self._openings, self._short_openings
        glued = self._glued_in(fresh, squeezed)
        for word, token in zip(fresh, squeezed, strict=True):
            woken: tuple[int, ...] = ()
            # Most words open no factor at all: one set look-up says so.
            if token[:GATE] in openings or token.startswith(short_openings):
                woken = whole.get(token, ())
                gated = prefixes.get(token[:GATE])
                if gated:
                    woken += tuple(i for bare, ids in gated if token.startswith(bare) for i in ids)
                if short_openings and token.startswith(short_openings):
                    woken += tuple(
                        i
                        for bare, ids in self._short_prefixes
                        if token.startswith(bare)
                        for i in ids
                    )
            entry = _Word(token, woken, glued.get(word, ()))
            # Into `waking` first: another thread that finds the word known must also
            # find it there.
            if entry.woken or entry.glued:
                known.waking.add(word)
            known[word] = entry
        return known

    def _glued_in(self, words: list[str], tokens: list[str]) -> dict[str, tuple[int, ...]]:
        """Return the phrases woken inside long glued words ("iwanttodie", "#killmyself")."""
        glued: dict[str, tuple[int, ...]] = {}
        long_words = [
            (word, token)
            for word, token in zip(words, tokens, strict=True)
            if len(token) > JOINED_TOKEN
        ]
        for word, token in long_words:
            found: list[int] = []
            position = 0
            while (gate := self._inside_gates.search(token, position)) is not None:
                position = gate.start() + 1
                for bare, ids in self._inside.get(gate.group()[:GATE], ()):
                    if token.startswith(bare, gate.start()):
                        found.extend(ids)
            if found:
                glued[word] = tuple(found)
        return glued

    def _candidates(
        self, words: set[str], known: "_Known", *, with_words: bool
    ) -> tuple[dict[int, list[str]], set[int]]:
        """Return the phrases worth running on a key, and those woken inside glued words.

        With `with_words`, each phrase comes with the words that woke it (to search only
        around them); otherwise with an empty list.
        """
        found: dict[int, list[str]] = {index: [] for index in self._always}
        glued: set[int] = set()
        woken: dict[int, list[str]] = {}
        # Most words wake nothing: a set intersection leaves the few that do.
        for word in words & known.waking:
            entry = known[word]
            for index in entry.woken:
                by = woken.setdefault(index, [])
                if with_words:
                    by.append(word)
            for index in entry.glued:
                found.setdefault(index, []).append(word)
                glued.add(index)
        if woken:
            # A phrase runs only if every word-set it needs has a member here.
            tokens = {known[word].token for word in words}
            required = self._required
            for index, by in woken.items():
                for needed in required[index]:
                    if tokens.isdisjoint(needed):
                        break
                else:
                    found.setdefault(index, []).extend(by)
        return found, glued

    @staticmethod
    def _find(phrase: _Phrase, key: str, *, glued: bool = False) -> list[tuple[int, int]]:
        """Return the spans where a phrase matches in a key (also inside glued words)."""
        spans: list[tuple[int, int]] = []
        position = 0
        if phrase.bounded is not None and not glued:
            opening = phrase.regex.match(key)
            if opening is not None:
                spans.append(opening.span())
                position = opening.end()
            for bounded in phrase.bounded.finditer(key, position):
                spans.append((bounded.start() + 1, bounded.end()))
            return spans
        regex = phrase.regex
        while (found := regex.search(key, position)) is not None:
            start, end = found.span()
            # The left word boundary is checked here, not in the pattern: a leading
            # look-behind would cost the pattern its fast literal-prefix search.
            if start and key[start - 1] in WORD_CHARS and not (glued and _glued(key, start, end)):
                position = start + 1
                continue
            spans.append((start, end))
            position = end if end > start else start + 1
        return spans

    @staticmethod
    def _occurs(phrase: _Phrase, key: str, low: int = 0, high: int | None = None) -> bool:
        """Whether a phrase may match between two positions of a key (a cheap first test)."""
        end = len(key) if high is None else high
        if phrase.bounded is None:
            return phrase.regex.search(key, low, end) is not None
        if phrase.bounded.search(key, low, end) is not None:
            return True
        return low == 0 and phrase.regex.match(key, 0, end) is not None

    def _scan(self, key: str, *, minor: bool = False, eager: bool = True) -> _Scan:
        """Find the phrases in a key: whole if short, piece by piece (sentences) if long.

        Unless `eager`, modifiers that only count with a finding (a time, "I've decided")
        are left in `deferred` for `_resolve` to search if a finding turns up.
        """
        if len(key) <= PIECE:
            words = set(key_words(key))
            return self._scan_piece(key, words, self._lookup(words), minor=minor, eager=eager)
        scan = _Scan(key)
        pieces = [(low, high, key[low:high]) for low, high in _pieces(key)]
        words_of_pieces = [set(key_words(piece)) for _, _, piece in pieces]
        known = self._lookup(set().union(*words_of_pieces))
        for (low, _, piece), piece_words in zip(pieces, words_of_pieces, strict=True):
            part = self._scan_piece(piece, piece_words, known, minor=minor, eager=eager)
            scan.deferred.extend(
                (low + offset, text, phrase, by) for offset, text, phrase, by in part.deferred
            )
            for finding in part.findings:
                finding.start += low
                finding.end += low
            for hit, _ in part.modifiers:
                hit.start += low
                hit.end += low
            scan.findings.extend(part.findings)
            scan.modifiers.extend(part.modifiers)
            scan.minor = scan.minor or part.minor
        # An age said in another piece still makes a disclosure a minor's.
        if not scan.minor and any(
            f.rule is not None and f.rule.if_minor is not None for f in scan.findings
        ):
            scan.minor = any(self._find(phrase, key) for phrase in self._minor_phrases)
        return scan

    def _scan_piece(
        self,
        key: str,
        words: set[str],
        known: _Known,
        *,
        minor: bool = False,
        eager: bool = True,
    ) -> _Scan:
        scan = _Scan(key)
        windowed = len(key) > WINDOWED
        candidates, glued = self._candidates(words, known, with_words=windowed)
        if not candidates:
            return scan
        hits: list[_Hit] = []
        support: dict[Kind, list[_Phrase]] = {"benign": [], "cover": [], "minor": []}
        phrases = self._phrases
        for index, by in candidates.items():
            phrase = phrases[index]
            kind = phrase.rule.kind
            if kind in support:
                support[kind].append(phrase)
                continue
            if not eager and kind == "modifier" and phrase.rule.severity is None:
                scan.deferred.append((0, key, phrase, by))
                continue
            if index in glued:
                spans = self._find(phrase, key, glued=True)
            elif windowed and by:
                # In a long piece, look only around the words that woke the phrase.
                windows = _windows(key, by)
                found = any(self._occurs(phrase, key, low, high) for low, high in windows)
                spans = self._find(phrase, key) if found else []
            # Most woken phrases do not match: one search says so.
            else:
                spans = self._find(phrase, key) if self._occurs(phrase, key) else []
            hits.extend(_Hit(phrase, start, end) for start, end in spans)
        if minor:
            scan.minor = any(self._find(phrase, key) for phrase in support["minor"])
        if not hits:
            return scan
        # Candidates come in no particular order (sets of words); findings must not.
        hits.sort(key=lambda hit: (hit.start, hit.end, hit.phrase.text))
        masked = _merged(span for phrase in support["benign"] for span in self._find(phrase, key))
        if masked:
            hits = [hit for hit in hits if not _overlaps(masked, hit.start, hit.end)]
        # "Asking for a friend" is not a report about a friend: hide it from the
        # subject and negation look-backs (same length, so offsets still hold).
        context = key
        for phrase in support["cover"]:
            for start, end in self._find(phrase, key):
                context = context[:start] + "," + " " * (end - start - 1) + context[end:]
        for hit in hits:
            rule = hit.phrase.rule
            if rule.modifier == "time":
                scan.modifiers.append((hit, None))  # a time of day has no owner
                continue
            clause = self._clause_before(context, hit.start)
            matched = context[hit.start : hit.end]
            if rule.kind == "modifier":
                scan.modifiers.append((hit, self._person(matched, clause, rule)))
                continue
            assert rule.category is not None
            assert rule.severity is not None
            negated = self._negated(clause)
            severity = rule.severity
            if negated:
                lowered = Severity(max(Severity.LOW, severity - 1))
                severity = rule.negated if rule.negated is not None else lowered
            person = self._person(matched, clause, rule) or "self"
            scan.findings.append(
                _Finding(
                    rule.category,
                    severity,
                    person,
                    hit.start,
                    hit.end,
                    [hit.phrase.text],
                    negated,
                    rule,
                )
            )
        scan.findings = _drop_contained(scan.findings)
        # A minor's age is looked for only when it would change a finding.
        if not minor and any(
            f.rule is not None and f.rule.if_minor is not None for f in scan.findings
        ):
            scan.minor = any(self._find(phrase, key) for phrase in support["minor"])
        return scan

    def _resolve(self, scan: _Scan) -> None:
        """Search the modifier phrases a scan deferred, and add what they find.

        In a long message, only in the pieces around what was found: a time or an
        intent a few pages away from a statement is not about it.
        """
        found = [f.start for f in scan.findings] + [hit.start for hit, _ in scan.modifiers]
        for offset, piece, phrase, by in scan.deferred:
            if offset and not any(
                offset - PIECE <= at < offset + len(piece) + PIECE for at in found
            ):
                continue
            if len(piece) > WINDOWED and by:
                windows = _windows(piece, by)
                if not any(self._occurs(phrase, piece, low, high) for low, high in windows):
                    continue
            elif not self._occurs(phrase, piece):
                continue
            for start, end in self._find(phrase, piece):
                owner: Person | None = None
                if phrase.rule.modifier != "time":
                    clause = self._clause_before(piece, start)
                    owner = self._person(piece[start:end], clause, phrase.rule)
                scan.modifiers.append((_Hit(phrase, start + offset, end + offset), owner))
        scan.deferred.clear()
        scan.modifiers.sort(key=lambda item: (item[0].start, item[0].end, item[0].phrase.text))

    def _clause_before(self, context: str, start: int) -> str:
        before = context[max(0, start - LOOKBACK_CHARS) : start]
        # The clause starts after the last comma or full stop before the phrase.
        mark = CLAUSE_MARK.search(before[::-1])
        if mark is not None:
            before = before[len(before) - mark.start() :]
        words = before.replace('"', " ").split()
        breaks = self._words.get("clause_breaks", frozenset())
        for position in range(len(words) - 1, -1, -1):
            if words[position] in breaks:
                words = words[position + 1 :]
                break
        return " ".join(words)

    def _negated(self, clause: str) -> bool:
        cues = self._words.get("cues", frozenset())
        bridges = self._words.get("bridges", frozenset())
        words = clause.split()
        for word in reversed(words[-NEGATION_REACH:]):
            if word in cues:
                return True
            if word not in bridges:
                return False
        return False

    def _person(self, matched: str, clause: str, rule: _Rule) -> Person | None:
        """Whose risk a phrase states: its victim's (abuse), its subject's, or the writer's."""
        if rule.person == "writer":
            return "self"
        grammar = self._grammars[rule.language]
        if rule.person == "victim":
            victim = _last(grammar.objects, matched)
            if victim is not None:
                return victim
        if grammar.other_reflexive.search(matched):
            return "other"
        if grammar.self_reflexive.search(matched):
            return "self"
        # The nearest subject before the phrase, in the same clause...
        subject = _last(grammar.subjects, clause) if clause else None
        if subject is not None:
            return subject
        # ...or the phrase's own first word: "quiere morir", "i want to die".
        opening = LEADING_PARTICLES.sub("", matched)
        found = grammar.subjects.match(opening)
        if found is not None:
            return "self" if found.lastgroup == "self" else "other"
        return None

    # -- deciding ------------------------------------------------------------------------

    def detect(self, text: str, *, recent: Sequence[str] = ()) -> Screening | None:
        """Screen one user message; `recent` are the conversation's earlier user messages."""
        # Without earlier turns, a time or an "I've decided" counts only beside something
        # found in this message: look for those only once there is something.
        scan = self._scan(match_key(text), eager=bool(recent))
        if scan.deferred and (scan.findings or scan.modifiers):
            self._resolve(scan)
        if not scan.findings and not scan.modifiers:
            return None
        findings = list(scan.findings)
        history: _History | None = None

        def earlier() -> _History:
            # Earlier turns are read only when a time, a means or a goodbye needs them.
            nonlocal history
            if history is None:
                history = self._history(recent)
            return history

        self._apply_modifiers(scan, findings, earlier)
        times = [hit for hit, _ in scan.modifiers if hit.phrase.rule.modifier == "time"]
        # A time matters only with something to time, here or in the earlier turns.
        if times and (any(f.category in TIMED for f in findings) or earlier().timed is not None):
            ends = [mark.start() for mark in SENTENCE_END.finditer(scan.key)]
            for hit in times:
                self._apply_time(scan.key, ends, hit, findings, earlier)
        minor_rules = [f for f in findings if f.rule is not None and f.rule.if_minor is not None]
        if minor_rules and (scan.minor or earlier().minor):
            for finding in minor_rules:
                assert finding.rule is not None
                assert finding.rule.if_minor is not None
                finding.severity = max(finding.severity, finding.rule.if_minor)
        if not findings:
            return None
        best = max(findings, key=_rank)
        keywords: list[str] = []
        for finding in [best, *sorted(findings, key=lambda f: (-f.severity, f.start))]:
            for keyword in finding.keywords:
                if keyword not in keywords:
                    keywords.append(keyword)
        about_someone_else = best.person == "other"
        return Screening(
            category=Category.THIRD_PARTY if about_someone_else else best.category,
            severity=best.severity,
            keywords=tuple(keywords),
            lexicon_version=self.lexicon_version,
            about_someone_else=about_someone_else,
            concern=best.category,
        )

    def _apply_modifiers(
        self, scan: _Scan, findings: list[_Finding], earlier: Callable[[], "_History"]
    ) -> None:
        """Turn intents, means, goodbyes and attempts into findings, given ideation."""
        ideation_now = _strongest([f for f in findings if f.category in IDEATION and not f.negated])
        goodbyes = [hit for hit, _ in scan.modifiers if hit.phrase.rule.modifier == "goodbye"]
        # Two different farewells, one of them more than a thank-you, are a goodbye even
        # without a statement of ideation ("this is goodbye, thank you for everything").
        farewell = len({hit.phrase.text for hit in goodbyes}) > 1 and any(
            hit.phrase.rule.severity is not None for hit in goodbyes
        )
        for hit, person in scan.modifiers:
            rule = hit.phrase.rule
            if rule.modifier == "time":
                continue
            ideation = ideation_now or earlier().ideation
            keywords = [hit.phrase.text]
            if ideation is not None or (farewell and rule.modifier == "goodbye"):
                # With ideation, a stated intent is a plan (C-SSRS 4-5); a means at hand,
                # a goodbye or an attempt makes it critical.
                category = ideation.category if ideation is not None else Category.SUICIDE
                raised = Severity.HIGH if rule.modifier == "intent" else Severity.CRITICAL
                owner = person or (ideation.person if ideation is not None else "self")
                findings.append(_Finding(category, raised, owner, hit.start, hit.end, keywords))
            elif rule.category is not None and rule.severity is not None:
                owner = person or "self"
                findings.append(
                    _Finding(rule.category, rule.severity, owner, hit.start, hit.end, keywords)
                )

    def _apply_time(
        self,
        key: str,
        ends: Sequence[int],
        hit: _Hit,
        findings: list[_Finding],
        earlier: Callable[[], "_History"],
    ) -> None:
        """Make what a time of day (within a day) times critical: a plan with a when."""
        after = bisect_left(ends, hit.start)
        low = ends[after - 1] + 1 if after else 0
        high = ends[after] if after < len(ends) else len(key)
        # A sentence of nothing but the time ("Tonight." "Probably tonight.") answers
        # "when?", whatever came before. Such a sentence is short.
        bare = False
        if high - low - (hit.end - hit.start) < BARE_SENTENCE:
            fillers = self._words.get("fillers", frozenset())
            rest = key_words(key[low : hit.start] + " " + key[hit.end : high])
            bare = all(word in fillers for word in rest)
        timed: list[_Finding] = []
        for finding in findings:
            if finding.category not in TIMED or finding.negated:
                continue
            if bare and (finding.category in IDEATION or finding.severity >= Severity.MODERATE):
                timed.append(finding)
                continue
            same_sentence = low <= finding.start < high
            if not same_sentence or finding.severity < Severity.MODERATE:
                continue
            # "Today" before a wish ("today was awful and I want to die") is not its time;
            # before a stated intent ("today I'm going to kill myself") it is.
            late = hit.phrase.rule.after_only and finding.start > hit.start
            if late and finding.severity < Severity.HIGH:
                continue
            timed.append(finding)
        if not timed and bare:
            ideation = earlier().timed
            if ideation is not None:
                findings.append(
                    _Finding(
                        ideation.category,
                        Severity.CRITICAL,
                        ideation.person,
                        hit.start,
                        hit.end,
                        [hit.phrase.text],
                    )
                )
            return
        for finding in timed:
            finding.severity = Severity.CRITICAL
            if hit.phrase.text not in finding.keywords:
                finding.keywords.append(hit.phrase.text)

    def _history(self, recent: Sequence[str]) -> "_History":
        history = _History()
        for message in recent[-RECENT_TURNS:]:
            scan = self._scan(match_key(message), minor=True)
            history.minor = history.minor or scan.minor
            for finding in scan.findings:
                if finding.negated:
                    continue
                if finding.category in IDEATION:
                    history.ideation = _strongest([f for f in (history.ideation, finding) if f])
                if finding.category in TIMED:
                    history.timed = _strongest([f for f in (history.timed, finding) if f])
        return history


@dataclass(slots=True)
class _History:
    ideation: _Finding | None = None
    timed: _Finding | None = None
    minor: bool = False


def _rank(finding: _Finding) -> tuple[int, bool, int]:
    return (
        finding.severity,
        finding.person == "self",
        -CATEGORY_PRIORITY.index(finding.category),
    )


def _strongest(findings: Sequence[_Finding]) -> _Finding | None:
    return max(findings, key=_rank) if findings else None


def _last(pair: re.Pattern[str], text: str) -> Person | None:
    last: re.Match[str] | None = None
    for last in pair.finditer(text):  # noqa: B007 (the last one is the one wanted)
        pass
    if last is None:
        return None
    return "self" if last.lastgroup == "self" else "other"


# "No quiere vivir", "ya no quiero vivir": the subject comes after these.
LEADING_PARTICLES = re.compile(r"^(?:ya |no )+")


SENTENCE_END = re.compile(r"[.!?;]")
CLAUSE_MARK = re.compile(r"[.,;:!?]")


def _glued(key: str, start: int, end: int) -> bool:
    """Whether a match that starts inside a word lies in a long glued word ("#iwanttodie")."""
    if " " in key[start:end]:
        return False
    word_start = key.rfind(" ", 0, start) + 1
    return end - word_start > JOINED_TOKEN


def _trie(words: Iterable[str]) -> str:
    """Return a regular expression matching any of the words, shaped as a trie (fast)."""
    root: dict[str, Any] = {}
    for word in words:
        node = root
        for letter in word:
            node = node.setdefault(letter, {})
        node[""] = {}

    def pattern(node: dict[str, Any]) -> str:
        branches = [
            re.escape(letter) + pattern(child) for letter, child in sorted(node.items()) if letter
        ]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        return f"(?:{body})?" if "" in node else body

    return pattern(root)


def _pieces(key: str) -> Iterator[tuple[int, int]]:
    """Cut a long key into pieces of about PIECE characters, each ending a sentence."""
    low = 0
    while low < len(key):
        high = low + PIECE
        if high >= len(key):
            yield low, len(key)
            return
        boundary = SENTENCE_END.search(key, high, high + PIECE)
        if boundary is not None:
            high = boundary.end()
        else:
            # No sentence end in sight: cut at a space (a phrase may be cut; rare).
            space = key.find(" ", high)
            high = len(key) if space < 0 else space
        yield low, high
        low = high


def _windows(key: str, words: Iterable[str]) -> list[tuple[int, int]]:
    """Return merged stretches of a key around each occurrence of the words.

    Never cuts a word at a stretch's end (it would look like a word boundary); gives the
    whole key when the stretches would cover most of it anyway.
    """
    spans: list[tuple[int, int]] = []
    for word in words:
        position = key.find(word)
        while position >= 0:
            spans.append((max(0, position - WINDOW), position + len(word) + WINDOW))
            position = key.find(word, position + len(word))
    spans.sort()
    windows: list[tuple[int, int]] = []
    covered = 0
    for low, high in spans:
        if windows and low <= windows[-1][1]:
            covered += max(0, high - windows[-1][1])
            windows[-1] = (windows[-1][0], max(high, windows[-1][1]))
        else:
            covered += high - low
            windows.append((low, high))
        if covered * 2 > len(key):
            return [(0, len(key))]
    snapped: list[tuple[int, int]] = []
    for low, high in windows:
        high = min(high, len(key))
        while high < len(key) and key[high] in WORD_CHARS:
            high += 1
        snapped.append((low, high))
    return snapped


def _merged(spans: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """Return the spans sorted and merged where they overlap."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start < merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _overlaps(spans: Sequence[tuple[int, int]], start: int, end: int) -> bool:
    """Whether any of the sorted, disjoint spans overlaps [start, end)."""
    index = bisect_left(spans, (end, -1))
    return index > 0 and spans[index - 1][1] > start


def _drop_contained(findings: list[_Finding]) -> list[_Finding]:
    """Drop a finding inside a longer, at least as severe one ("going to kill myself")."""
    kept: list[_Finding] = []
    for finding in findings:
        length = finding.end - finding.start
        for other in findings:
            if (
                other.start <= finding.start
                and finding.end <= other.end
                and other.end - other.start > length
                and other.severity >= finding.severity
            ):
                break
        else:
            kept.append(finding)
    return kept


@cache
def default_detector() -> Detector:
    """Return the detector built from the shipped lexicons (built once per process)."""
    return Detector()
