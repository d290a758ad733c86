"""A rule-based screen of a user's message for signs of crisis, built from lexicon files.

`Detector().detect(text, recent=...)` answers `None` or a `Screening`: what kind of risk,
how severe (after the Columbia Suicide Severity Rating Scale's triage), the lexicon
phrases that matched, and whether the message is about someone else. It reads words,
not minds: docs/safety-detector.md says what it can and cannot see.

Matching happens on `match_key(text)` (see normalize.py). Each lexicon phrase is a small
pattern language compiled to one regular expression; a phrase only runs when a word of
the message begins with a word it cannot match without (a "factor"), which keeps a
message of ordinary chat to a few dictionary look-ups. A long message is read in pieces
(sentences); what its words wake is worked out for all the pieces at once, a phrase is
tried only as far around a word that woke it as a match can reach, and only a piece
where something may match is screened in full.
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
    spaced_key,
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
# What makes a piece of text abnormal for `_width`: a letter three times running.
RUN_OF_THREE = re.compile(r"([a-z])\1\1")


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
# How many characters a builtin can match in a normal piece of text (see `_width`).
LONG_WORD = 20
END_ANCHOR = '(?=[ "]*[.!?;,:]*[ "]*$)'
RAW_WIDTHS = {
    BUILTINS["quoted"]: 82,
    BUILTINS["mention"]: 82,
    BUILTINS["word"]: LONG_WORD,
    BUILTINS["digits"]: LONG_WORD,
    BUILTINS["dozens"]: LONG_WORD,
    BUILTINS["hundreds"]: 3,
    BUILTINS["text"]: 60,
    BUILTINS["end"]: 0,
    "^": 0,
    END_ANCHOR: 0,
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
                anchor = "^" if token == "^" else END_ANCHOR
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


class _Width(NamedTuple):
    """The most a match of part of a phrase can take: `chars` characters besides its
    separators, and `separators` runs of spaces and quotes (see `_width`)."""

    chars: int
    separators: int

    def __add__(self, other: object) -> "_Width":
        assert isinstance(other, _Width)
        return _Width(self.chars + other.chars, self.separators + other.separators)

    def widest(self, other: "_Width") -> "_Width":
        """A width at least as wide as either (each part the larger)."""
        return _Width(max(self.chars, other.chars), max(self.separators, other.separators))

    def at_most(self, separator_run: int) -> int:
        """The width in characters where no run of separators is longer than given."""
        return min(self.chars + self.separators * separator_run, WINDOW)


NO_WIDTH = _Width(0, 0)


class _Factors(NamedTuple):
    """Words that begin a word of every match of a phrase, and how far a match reaches
    around the one it holds: at most `before` before the factor word's first letter and
    `after` from it on."""

    words: frozenset[str]
    before: _Width
    after: _Width


def _factors(
    node: _Node, common: frozenset[str], at_start: bool = True, at_end: bool = True
) -> _Factors | None:
    """Return words that begin a word of every match (at least one of them), or None.

    The prefilter looks these up among the words of a message, so a factor must start a
    word: "want" in "want(s)? to" does, "s" does not. A factor ending in "*" may be
    followed by more letters ("want*" for "wants", "overdos*" for "overdosed"); one
    without must be the whole word.
    """
    if node.op == "lit":
        if not at_start:
            return None
        words = frozenset({node.text if at_end else node.text + "*"})
        return _Factors(words, NO_WIDTH, _width(node))
    if node.op in ("sep", "opt", "raw", "stem"):
        return None
    if node.op == "alt":
        union: set[str] = set()
        before = after = NO_WIDTH
        for child in node.children:
            found = _factors(child, common, at_start, at_end)
            if found is None:
                return None
            union |= found.words
            before, after = before.widest(found.before), after.widest(found.after)
        return _Factors(frozenset(union), before, after)
    best: _Factors | None = None
    chosen = 0
    children = node.children
    for index, child in enumerate(children):
        ends_word = at_end if index == len(children) - 1 else _opens_word(children[index + 1])
        found = _factors(child, common, at_start, ends_word)
        if found is not None and (
            best is None or _factor_score(found.words, common) > _factor_score(best.words, common)
        ):
            best, chosen = found, index
        at_start = _starts_word_after(child, at_start)
    if best is None:
        return None
    widths = [_width(child) for child in children]
    before = sum(widths[:chosen], NO_WIDTH) + best.before
    return _Factors(best.words, before, sum(widths[chosen + 1 :], best.after))


def _width(node: _Node) -> _Width:
    """Return the most a match of the node takes in a normal piece of text.

    Normal (see `Detector._separator_run`): no letter three times running and no word
    longer than LONG_WORD. Then a letter of a literal matches at most two characters (a
    digit, which a number can repeat, up to a word), a builtin what its pattern allows,
    and a separator as many as the longest run of spaces and quotes, which is counted
    apart.
    """
    if node.op == "lit":
        if any(ch.isdigit() for ch in node.text):
            return _Width(LONG_WORD, 0)
        return _Width(2 * len(node.text), 0)
    if node.op == "sep":
        return _Width(0, 1)
    if node.op == "stem":
        return _Width(LONG_WORD, 0)
    if node.op == "raw":
        return _Width(RAW_WIDTHS[node.text], 0)
    if node.op == "opt":
        return _width(node.children[0])
    if node.op == "alt":
        widest = NO_WIDTH
        for child in node.children:
            widest = widest.widest(_width(child))
        return widest
    return sum((_width(child) for child in node.children), NO_WIDTH)


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
        if found is None or any(factor.endswith("*") or len(factor) < 3 for factor in found.words):
            return []
        return [found.words]
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
    # How far a match reaches before and after the first letter of a word that woke the
    # phrase (see `_Factors`): the stretch searched around that word.
    before: _Width
    after: _Width


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
    """Words looked up so far, and (as sets, for fast intersections) those that wake a
    phrase and those that some phrase requires (see `_required`)."""

    def __init__(self) -> None:
        super().__init__()
        self.waking: set[str] = set()
        self.requiring: set[str] = set()
        # Words that make a piece abnormal (see `_separator_run`).
        self.unusual: set[str] = set()


class _Word(NamedTuple):
    """A word of a message, looked up: squeezed, the phrases it wakes (directly, glued),
    and the word-sets some phrase requires that it is a member of, as bits (see
    `Detector._needs`)."""

    token: str
    woken: tuple[int, ...]
    glued: tuple[int, ...]
    satisfies: int


Deferred = tuple[int, str, _Phrase, list[str]]


@dataclass(slots=True)
class _Scan:
    key: str
    findings: list[_Finding] = field(default_factory=list)
    modifiers: list[tuple[_Hit, Person | None]] = field(default_factory=list)
    minor: bool = False
    # Modifier phrases not searched yet (they mean nothing without a finding): each with
    # the offset and text of its piece of the key, and the words that woke it.
    deferred: list[Deferred] = field(default_factory=list)
    # More of them, in a long key, not even listed yet: most scans never need them. Given
    # a test of a piece's bounds, only those of the pieces that pass it.
    more_deferred: Callable[[Callable[[int, int], bool] | None], list[Deferred]] | None = None

    @property
    def has_deferred(self) -> bool:
        """Whether some modifier phrase was left for `_resolve`."""
        return bool(self.deferred) or self.more_deferred is not None


@dataclass(slots=True)
class _Woken:
    """What the prefilter woke in the pieces of a long key, worked out for the key at once.

    Each phrase woken somewhere comes with its pieces as a bit mask (bit n for piece n):
    where a word woke it and every word-set it requires has a member (`pieces`), where it
    was woken inside a glued word (`glued`); and the words that woke it, each with its
    pieces.
    """

    pieces: dict[int, int] = field(default_factory=dict)
    glued: dict[int, int] = field(default_factory=dict)
    by: dict[int, list[tuple[str, int]]] = field(default_factory=dict)
    glued_by: dict[int, list[tuple[str, int]]] = field(default_factory=dict)

    def woken_in(self, index: int, number: int) -> bool:
        """Whether a phrase is a candidate in a piece (as `_candidates` would say)."""
        return bool((self.pieces.get(index, 0) | self.glued.get(index, 0)) >> number & 1)

    def words(self, index: int, number: int, *, windowed: bool) -> list[str]:
        """The words that woke a phrase in a piece, as `_candidates` lists them."""
        words = [word for word, pieces in self.glued_by.get(index, ()) if pieces >> number & 1]
        if windowed and self.pieces.get(index, 0) >> number & 1:
            words += [word for word, pieces in self.by[index] if pieces >> number & 1]
        return words

    def kept(self, later: frozenset[int]) -> list[int]:
        """The phrases woken that are among `later`."""
        return [index for index in self.pieces.keys() | self.glued.keys() if index in later]

    def candidates(
        self, pieces: int, windowed: Sequence[bool]
    ) -> dict[int, tuple[dict[int, list[str]], set[int]]]:
        """Return `_candidates` of each of some pieces (bit n for piece n): its phrases
        with their words, and those woken inside glued words."""
        found: dict[int, tuple[dict[int, list[str]], set[int]]] = {
            number: ({}, set()) for number in _bits(pieces)
        }
        for index in self.pieces.keys() | self.glued.keys():
            glued = self.glued.get(index, 0)
            for number in _bits((self.pieces.get(index, 0) | glued) & pieces):
                candidates, glued_here = found[number]
                candidates[index] = self.words(index, number, windowed=windowed[number])
                if glued >> number & 1:
                    glued_here.add(index)
        return found


@dataclass(slots=True)
class _Piece:
    """A key (or a piece of a long one), its words, and what its search needs on demand."""

    key: str
    words: set[str]
    # Where each word that woke a phrase occurs, and the longest run of separators
    # (see `Detector._separator_run`; None until asked).
    occurrences: dict[str, list[int]] = field(default_factory=dict)
    separator_run: int | None = None


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
                # Around a word that woke it, a phrase is looked for as far as it can
                # reach (one more character before: the separator a bounded pattern
                # starts with).
                before = after = _Width(WINDOW, 0)
                if factors is not None:
                    before, after = factors.before + _Width(1, 0), factors.after
                self._phrases.append(_Phrase(phrase, rule, regex, bounded, before, after))
                self._required.append(tuple(_required(node)))
                if factors is None:
                    self._always.append(index)
                else:
                    pending.append((index, factors.words))
            lists = self._word_lists_of(lexicon)
            for name, words in lists.items():
                if name not in PERSON_LISTS:
                    word_lists.setdefault(name, []).extend(words)
            self._grammars[str(lexicon["language"])] = _grammar(lists, lexicon.get("macros", {}))
        self._index(pending, glued_words)
        # Every word some phrase requires: only these words' tokens are worth collecting.
        self._required_tokens = frozenset(
            token for needed in self._required for tokens in needed for token in tokens
        )
        # The word-sets required, numbered: the sets each phrase needs and the sets each
        # token is a member of, as bits (so that a message's tokens are checked against
        # every phrase's needs with a few integer operations).
        numbers: dict[frozenset[str], int] = {}
        self._needs = [
            sum(1 << numbers.setdefault(tokens, len(numbers)) for tokens in set(needed))
            for needed in self._required
        ]
        self._satisfies: dict[str, int] = {}
        for tokens, number in numbers.items():
            for token in tokens:
                self._satisfies[token] = self._satisfies.get(token, 0) | 1 << number
        self._known = _Known()
        # Phrases not searched for their own sake: benign idioms, covers and minors'
        # ages (searched once something is found), and modifiers that mean nothing alone.
        self._supporting = frozenset(
            index
            for index, phrase in enumerate(self._phrases)
            if phrase.rule.kind in ("benign", "cover", "minor")
        )
        self._deferrable = frozenset(
            index
            for index, phrase in enumerate(self._phrases)
            if phrase.rule.kind == "modifier" and phrase.rule.severity is None
        )
        # The phrases a long key keeps for later (see `_woken`), eagerly or not.
        self._later = self._supporting
        self._later_lazily = self._supporting | self._deferrable
        # The phrases that require words besides the one that wakes them.
        self._gated = frozenset(index for index, needed in enumerate(self._required) if needed)
        self._minor_indices = frozenset(
            index for index, phrase in enumerate(self._phrases) if phrase.rule.kind == "minor"
        )
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
        required_tokens = self._required_tokens
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
            entry = _Word(token, woken, glued.get(word, ()), self._satisfies.get(token, 0))
            # Into the sets first: another thread that finds the word known must also
            # find it there.
            if entry.woken or entry.glued:
                known.waking.add(word)
            if token in required_tokens:
                known.requiring.add(word)
            if len(word) > LONG_WORD or RUN_OF_THREE.search(word):
                known.unusual.add(word)
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
        woken: set[int] = set()
        by: dict[int, list[str]] = {}
        # Most words wake nothing: a set intersection leaves the few that do.
        for word in words & known.waking:
            entry = known[word]
            woken.update(entry.woken)
            if with_words:
                for index in entry.woken:
                    by.setdefault(index, []).append(word)
            for index in entry.glued:
                found.setdefault(index, []).append(word)
                glued.add(index)
        gated = woken & self._gated
        if gated:
            # A phrase runs only if every word-set it needs has a member here: the sets
            # with a member, as bits, against those each phrase needs.
            satisfied = 0
            for word in words & known.requiring:
                satisfied |= known[word].satisfies
            needs = self._needs
            woken.difference_update([index for index in gated if needs[index] & ~satisfied])
        for index in woken:
            found.setdefault(index, []).extend(by.get(index, ()))
        return found, glued

    @staticmethod
    def _separator_run(key: str, words: set[str], known: _Known) -> int:
        """Return the longest run of spaces and quotes in a key (at least 2), or 0 when
        its text is not normal for `_width`: a letter three times running ("diiiie"), a
        word longer than LONG_WORD.

        In normal text a match reaches no further than its phrase's `_Width` says.
        """
        if not words.isdisjoint(known.unusual):
            return 0
        longest = 2
        while " " * (longest + 1) in key:
            longest += 1
        # Quotes are few: measure the runs around each.
        quote = key.find('"')
        while quote >= 0:
            low, high = quote, quote + 1
            while low and key[low - 1] in ' "':
                low -= 1
            while high < len(key) and key[high] in ' "':
                high += 1
            longest = max(longest, high - low)
            quote = key.find('"', high)
        return longest

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

    def _may_match(
        self, phrase: _Phrase, piece: _Piece, known: _Known, by: list[str], *, glued: bool
    ) -> bool:
        """Whether a phrase woken in a piece may match there (a cheap first test: if not,
        `_find` finds nothing).

        A phrase woken inside a glued word ("#iwanttodie") may match anywhere in the
        piece, inside words too. Otherwise, in a piece longer than WINDOWED, only around
        the words that woke it: as far as a match can reach from one of them in normal
        text, else WINDOW characters either side (where letters are stretched, say,
        "diiiiie").
        """
        key = piece.key
        if glued:
            return phrase.regex.search(key) is not None
        if len(key) <= WINDOWED or not by:
            return self._occurs(phrase, key)
        if piece.separator_run is None:
            piece.separator_run = self._separator_run(key, piece.words, known)
        if piece.separator_run:
            return self._occurs_near(phrase, key, by, piece.separator_run, piece.occurrences)
        windows = _windows(key, by, piece.occurrences)
        return any(self._occurs(phrase, key, low, high) for low, high in windows)

    @staticmethod
    def _occurs_near(
        phrase: _Phrase,
        key: str,
        words: Iterable[str],
        separator_run: int,
        occurrences: dict[str, list[int]],
    ) -> bool:
        """Whether a phrase may match around an occurrence of the words that woke it, as
        far as a match holding one of them reaches (a cheap first test, like `_occurs`).

        Each stretch is searched alone: a handful of short searches cost less than
        merging them, and than a search through the text between them. A phrase that
        starts with the word that woke it is only tried where the word starts.
        """
        before, after = phrase.before.at_most(separator_run), phrase.after.at_most(separator_run)
        bounded, regex = phrase.bounded, phrase.regex
        search = (bounded or regex).search
        first = before <= 1
        length = len(key)
        for word in words:
            reach = max(after, len(word))
            for position in _occurrences(key, word, occurrences):
                high = min(length, position + reach)
                # Never cut a word: its cut end would look like a word boundary.
                while high < length and key[high] in WORD_CHARS:
                    high += 1
                if first:
                    if bounded is None or not position:
                        found = regex.match(key, position, high)
                    else:
                        found = bounded.match(key, position - 1, high)
                    if found is not None:
                        return True
                    continue
                low = max(0, position - before)
                if search(key, low, high) is not None:
                    return True
                if bounded is not None and low == 0 and regex.match(key, 0, high) is not None:
                    return True
        return False

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
            known = self._lookup(words)
            candidates, glued = self._candidates(words, known, with_words=len(key) > WINDOWED)
            if not candidates:
                return _Scan(key)
            piece = _Piece(key, words)
            return self._scan_piece(piece, known, candidates, glued, minor=minor, eager=eager)
        scan = _Scan(key)
        bounds = list(_pieces(key))
        # The words of every piece from one pass over the key (spacing is per character,
        # so a slice of the spaced key is the spaced piece).
        spaced = spaced_key(key)
        words_of_pieces = [set(spaced[low:high].split()) for low, high in bounds]
        everything = set().union(*words_of_pieces)
        known = self._lookup(everything)
        windowed = [high - low > WINDOWED for low, high in bounds]
        woken = self._woken(everything, words_of_pieces, known)
        pieces = [
            _Piece(key[low:high], words)
            for (low, high), words in zip(bounds, words_of_pieces, strict=True)
        ]
        # Only a piece where something may match is screened in full.
        later = self._later if eager else self._later_lazily
        suspect = self._suspects(woken, pieces, windowed, known, later)
        for number, (candidates, glued) in woken.candidates(suspect, windowed).items():
            low = bounds[number][0]
            # (Its deferred modifiers are listed with all the others, below.)
            part = self._scan_piece(
                pieces[number], known, candidates, glued, minor=minor, eager=eager
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
        if minor and not scan.minor:
            # An age said in a piece with nothing else in it.
            scan.minor = any(
                self._find(self._phrases[index], pieces[number].key)
                for index in self._minor_indices & (woken.pieces.keys() | woken.glued.keys())
                for number in _bits(woken.pieces.get(index, 0) | woken.glued.get(index, 0))
            )
        deferred = [index for index in woken.kept(later) if index in self._deferrable]
        if deferred and not eager:

            def more_deferred(near: Callable[[int, int], bool] | None) -> list[Deferred]:
                return [
                    (
                        low,
                        pieces[number].key,
                        self._phrases[index],
                        woken.words(index, number, windowed=windowed[number]),
                    )
                    for number, (low, high) in enumerate(bounds)
                    if near is None or near(low, high)
                    for index in deferred
                    if woken.woken_in(index, number)
                ]

            scan.more_deferred = more_deferred
        # An age said in another piece still makes a disclosure a minor's.
        if not scan.minor and any(
            f.rule is not None and f.rule.if_minor is not None for f in scan.findings
        ):
            scan.minor = any(self._find(phrase, key) for phrase in self._minor_phrases)
        return scan

    def _suspects(
        self,
        woken: _Woken,
        pieces: Sequence[_Piece],
        windowed: Sequence[bool],
        known: _Known,
        later: frozenset[int],
    ) -> int:
        """Return the pieces (bit n for piece n) where a phrase to search may match.

        Phrase by phrase, with `_may_match` only: in most pieces nothing matches, and those
        need nothing more. A piece found to be suspect is not tried again.
        """
        suspect = 0
        for index in woken.pieces.keys() | woken.glued.keys():
            if index in later:
                continue
            glued_in = woken.glued.get(index, 0)
            phrase, by_all = self._phrases[index], woken.by.get(index, ())
            for number in _bits((woken.pieces.get(index, 0) | glued_in) & ~suspect):
                is_glued = bool(glued_in >> number & 1)
                if is_glued:
                    by = woken.words(index, number, windowed=windowed[number])
                elif windowed[number]:
                    by = [word for word, at in by_all if at >> number & 1]
                else:
                    by = []
                if self._may_match(phrase, pieces[number], known, by, glued=is_glued):
                    suspect |= 1 << number
        return suspect

    def _woken(
        self, everything: set[str], words_of_pieces: Sequence[set[str]], known: _Known
    ) -> "_Woken":
        """Return what the prefilter wakes in the pieces of a long key.

        The same as `_candidates` piece by piece, but each word's phrases and each phrase's
        required words are looked at once per key rather than once per piece: a phrase's
        pieces are the union of its waking words' pieces, intersected with the union of
        each required set's pieces.
        """
        woken = _Woken()
        # The pieces holding each word that wakes a phrase. (The few such words of the
        # key first: a piece's intersection with them is quicker than with all known.)
        waking = everything & known.waking
        masks: dict[str, int] = {}
        for number, words in enumerate(words_of_pieces):
            bit = 1 << number
            for word in words & waking:
                masks[word] = masks.get(word, 0) | bit
        everywhere = (1 << len(words_of_pieces)) - 1
        pieces = woken.pieces = dict.fromkeys(self._always, everywhere)
        for word, mask in masks.items():
            entry = known[word]
            for index in entry.woken:
                pieces[index] = pieces.get(index, 0) | mask
                woken.by.setdefault(index, []).append((word, mask))
            for index in entry.glued:
                woken.glued[index] = woken.glued.get(index, 0) | mask
                woken.glued_by.setdefault(index, []).append((word, mask))
        # A phrase's pieces must also hold a member of each word-set it requires: the
        # pieces holding each token of those sets (the few words of the key that are
        # such members first, as for waking words).
        required = self._required
        needed = set().union(*(tokens for index in pieces for tokens in required[index]))
        members = {
            word: token
            for word in everything & known.requiring
            if (token := known[word].token) in needed
        }
        token_masks: dict[str, int] = {}
        if members:
            member_words = set(members)
            for number, words in enumerate(words_of_pieces):
                bit = 1 << number
                for word in words & member_words:
                    token = members[word]
                    token_masks[token] = token_masks.get(token, 0) | bit
        present = set(token_masks)
        for index, mask in pieces.items():
            for tokens in required[index]:
                held = 0
                for token in tokens & present:
                    held |= token_masks[token]
                mask &= held
                if not mask:
                    break
            pieces[index] = mask
        return woken

    def _scan_piece(
        self,
        piece: _Piece,
        known: _Known,
        candidates: dict[int, list[str]],
        glued: set[int],
        *,
        minor: bool = False,
        eager: bool = True,
    ) -> _Scan:
        """Run the candidate phrases (from `_candidates`) on a key of at most a piece."""
        key = piece.key
        scan = _Scan(key)
        windowed = len(key) > WINDOWED
        hits: list[_Hit] = []
        supporting: dict[Kind, list[_Phrase]] = {"benign": [], "cover": [], "minor": []}
        phrases = self._phrases
        for index, by in candidates.items():
            phrase = phrases[index]
            kind = phrase.rule.kind
            if kind in supporting:
                supporting[kind].append(phrase)
                continue
            if not eager and kind == "modifier" and phrase.rule.severity is None:
                scan.deferred.append((0, key, phrase, by))
                continue
            # Most woken phrases do not match: a search or two says so (in a short key,
            # the search that finds the matches).
            is_glued = index in glued
            if not windowed or self._may_match(phrase, piece, known, by, glued=is_glued):
                spans = self._find(phrase, key, glued=is_glued)
                hits.extend(_Hit(phrase, start, end) for start, end in spans)
        if minor:
            scan.minor = any(self._find(phrase, key) for phrase in supporting["minor"])
        if not hits:
            return scan
        # Candidates come in no particular order (sets of words); findings must not.
        hits.sort(key=lambda hit: (hit.start, hit.end, hit.phrase.text))
        masked = _merged(
            span for phrase in supporting["benign"] for span in self._find(phrase, key)
        )
        if masked:
            hits = [hit for hit in hits if not _overlaps(masked, hit.start, hit.end)]
        # "Asking for a friend" is not a report about a friend: hide it from the
        # subject and negation look-backs (same length, so offsets still hold).
        context = key
        for phrase in supporting["cover"]:
            for start, end in self._find(phrase, key):
                context = context[:start] + "," + " " * (end - start - 1) + context[end:]
        # Phrases found at the same place (often several) share the clause before them.
        clauses: dict[int, str] = {}
        for hit in hits:
            rule = hit.phrase.rule
            if rule.modifier == "time":
                scan.modifiers.append((hit, None))  # a time of day has no owner
                continue
            clause = clauses.get(hit.start)
            if clause is None:
                clause = clauses[hit.start] = self._clause_before(context, hit.start)
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
            scan.minor = any(self._find(phrase, key) for phrase in supporting["minor"])
        return scan

    def _defers_a_match(self, scan: _Scan) -> bool:
        """Whether a modifier phrase the scan deferred matches anywhere in its piece.

        Looked for at least as widely as an eager scan would (around the words that woke
        it, as far as WINDOW; inside glued words too), so that when nothing is found here
        an eager scan would find no modifier either.
        """
        deferred = scan.deferred
        if scan.more_deferred is not None:
            deferred = deferred + scan.more_deferred(None)
        for _, piece, phrase, by in deferred:
            if len(piece) > WINDOWED and by:
                windows = _windows(piece, by)
                if not any(phrase.regex.search(piece, low, high) for low, high in windows):
                    continue
            elif phrase.regex.search(piece) is None:
                continue
            if self._find(phrase, piece, glued=True):
                return True
        return False

    def _resolve(self, scan: _Scan) -> None:
        """Search the modifier phrases a scan deferred, and add what they find.

        In a long message, only in the pieces around what was found (and the first): a
        time or an intent a few pages away from a statement is not about it.
        """
        found = sorted([f.start for f in scan.findings] + [h.start for h, _ in scan.modifiers])

        def near(low: int, high: int) -> bool:
            # Whether something was found from PIECE before the piece to PIECE after it.
            first = bisect_left(found, low - PIECE)
            return not low or (first < len(found) and found[first] < high + PIECE)

        if scan.more_deferred is not None:
            scan.deferred.extend(scan.more_deferred(near))
            scan.more_deferred = None
        for offset, piece, phrase, by in scan.deferred:
            if not near(offset, offset + len(piece)):
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

    def detect(
        self, text: str, *, recent: Sequence[str] | Callable[[], Sequence[str]] = ()
    ) -> Screening | None:
        """Screen one user message.

        `recent` are the conversation's earlier user messages, newest last (only the last
        RECENT_TURNS are read), or a function without arguments returning them: reading
        them can cost a query, and most messages never need them. The function is called
        at most once, and only when this message could need its earlier turns: when it
        has a modifier (a time, a means, a goodbye, an attempt, an intent) or a finding
        whose severity depends on a minor's age. An ordinary message, or one whose
        findings no earlier turn can change, is screened without calling it.
        """
        key = match_key(text)
        # Modifiers that only count with a finding (a time, "I've decided") are left
        # unsearched: most messages have no finding, here or in their earlier turns.
        scan = self._scan(key, eager=False)
        if not scan.findings and not scan.modifiers and not scan.has_deferred:
            return None
        turns: Sequence[str] | None = None if callable(recent) else recent

        def earlier_turns() -> Sequence[str]:
            nonlocal turns
            if turns is None:
                assert callable(recent)
                turns = recent()
            return turns

        # Earlier turns matter to a modifier (something it modifies) and to a finding
        # that a minor's age makes more severe, unless the age is said here.
        needed = bool(scan.modifiers) or (
            not scan.minor
            and any(f.rule is not None and f.rule.if_minor is not None for f in scan.findings)
        )
        deferred_match = True
        if not needed and scan.has_deferred and (turns is None or turns):
            needed = deferred_match = self._defers_a_match(scan)
        if needed and earlier_turns():
            # With earlier turns every modifier counts: screen as eagerly as ever.
            scan = self._scan(key, eager=True)
        elif deferred_match and scan.has_deferred and (scan.findings or scan.modifiers):
            # Without them, a modifier counts only beside something found here.
            self._resolve(scan)
        if not scan.findings and not scan.modifiers:
            return None
        findings = list(scan.findings)
        history: _History | None = None

        def earlier() -> _History:
            # Earlier turns are read only when a time, a means or a goodbye needs them.
            nonlocal history
            if history is None:
                history = self._history(earlier_turns())
            return history

        self._apply_modifiers(scan, findings, earlier)
        times = [hit for hit, _ in scan.modifiers if hit.phrase.rule.modifier == "time"]
        # A time matters only with something to time, here or in the earlier turns.
        if times and (any(f.category in TIMED for f in findings) or earlier().timed is not None):
            # The findings by where they start, so that each time looks only at those of
            # its sentence (a long message can hold hundreds of both).
            ordered = sorted(findings, key=lambda f: f.start)
            starts, indexed = [f.start for f in ordered], len(findings)

            def in_sentence(low: int, high: int) -> list[_Finding]:
                added = [f for f in findings[indexed:] if low <= f.start < high]
                return ordered[bisect_left(starts, low) : bisect_left(starts, high)] + added

            for hit in times:
                self._apply_time(scan.key, hit, findings, in_sentence, earlier)
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
        hit: _Hit,
        findings: list[_Finding],
        in_sentence: Callable[[int, int], list[_Finding]],
        earlier: Callable[[], "_History"],
    ) -> None:
        """Make what a time of day (within a day) times critical: a plan with a when.

        `in_sentence(low, high)` gives the findings that start between two positions.
        """
        # The sentence the time is in: after the last sentence end before it, up to the
        # first one from it on.
        low = max(key.rfind(mark, 0, hit.start) for mark in SENTENCE_ENDS) + 1
        high = min(
            (end for mark in SENTENCE_ENDS if (end := key.find(mark, hit.start)) >= 0),
            default=len(key),
        )
        # A sentence of nothing but the time ("Tonight." "Probably tonight.") answers
        # "when?", whatever came before. Such a sentence is short.
        bare = False
        if high - low - (hit.end - hit.start) < BARE_SENTENCE:
            fillers = self._words.get("fillers", frozenset())
            rest = key_words(key[low : hit.start] + " " + key[hit.end : high])
            bare = all(word in fillers for word in rest)
        timed: list[_Finding] = []
        # A bare time times the whole message (and its earlier turns); another, only the
        # statements of its own sentence.
        for finding in findings if bare else in_sentence(low, high):
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
SENTENCE_ENDS = ".!?;"
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


def _bits(mask: int) -> Iterator[int]:
    """Yield the numbers of the bits set in a mask, lowest first."""
    while mask:
        lowest = mask & -mask
        yield lowest.bit_length() - 1
        mask ^= lowest


def _occurrences(key: str, word: str, known: dict[str, list[int]]) -> list[int]:
    """Return where a word occurs in a key (as text, also inside other words), remembered
    in `known`."""
    found = known.get(word)
    if found is None:
        found = known[word] = []
        position = key.find(word)
        while position >= 0:
            found.append(position)
            position = key.find(word, position + len(word))
    return found


def _windows(
    key: str, words: Iterable[str], occurrences: dict[str, list[int]] | None = None
) -> list[tuple[int, int]]:
    """Return merged stretches of a key around each occurrence of the words, WINDOW
    characters either side (`occurrences` remembers where each word occurs).

    Never cuts a word at a stretch's end (it would look like a word boundary); gives the
    whole key when the stretches would cover most of it anyway.
    """
    spans: list[tuple[int, int]] = []
    known = {} if occurrences is None else occurrences
    for word in words:
        spans.extend(
            (max(0, position - WINDOW), position + len(word) + WINDOW)
            for position in _occurrences(key, word, known)
        )
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
