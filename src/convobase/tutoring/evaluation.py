"""How a learner's turn is evaluated against the line expected: the `Evaluator`
protocol, and the deterministic evaluator convobase ships (`baseline`).

The baseline compares what was said with the line and each of its accepted variants
after normalising both (Unicode NFKC, case, accents, punctuation and symbols, spacing),
picks the closest, and aligns the two word by word with rapidfuzz's Levenshtein
opcodes over word sequences: words the line has and the learner left out are
`missing`, words the learner added are `extra`, and a word replaced by one that is
spelled nearly the same is `misspelled`. The score, 0..100, is the mean of the
character similarity (rapidfuzz's normalised Indel similarity) and the share of the
line's words said right (a misspelled one counting half); a variant said exactly
scores 100. Everything is computed from the two texts alone, so the same turn always
gets the same evaluation.

An app plugs in its own (a language model, a pronunciation service) as an object with
`name`, `version` and `evaluate(said, line)`, installed under the `convobase.evaluators`
entry points and chosen with CONVOBASE_TUTORING_EVALUATOR (docs/tutoring.md).
"""

import functools
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Final, Protocol, runtime_checkable

from rapidfuzz import fuzz
from rapidfuzz.distance import Levenshtein

EVALUATOR_ENTRY_POINTS: Final = "convobase.evaluators"
BASELINE: Final = "baseline"
# Two words this similar (normalised Indel similarity, 0..1) are one misspelled.
MISSPELLING_SIMILARITY: Final = 0.6

# A word: letters and digits, with apostrophes inside ("don't", "l'eau").
_APOSTROPHE = "'\u2019\u02bc"  # the apostrophe, its typographic and its letter forms
_WORD = re.compile(f"[^\\W_]+(?:[{_APOSTROPHE}][^\\W_]+)*")
_APOSTROPHES = str.maketrans("", "", _APOSTROPHE)


@dataclass(frozen=True, slots=True)
class ExpectedLine:
    """The line a learner is to say: its text, other ways of saying it that are as
    good, the words it teaches, and its language (a BCP 47 tag)."""

    text: str
    variants: tuple[str, ...] = ()
    target_words: tuple[str, ...] = ()
    language: str = "und"


@dataclass(frozen=True, slots=True)
class Misspelling:
    """A word of the line said nearly right: as the line writes it, and as said."""

    expected: str
    said: str


@dataclass(frozen=True, slots=True)
class Evaluation:
    """How close a turn came to its line. Words are given as the line (or the learner)
    wrote them."""

    score: int  # 0..100
    matched: str  # the accepted text (the line or a variant) it came closest to
    similarity: float  # 0..100, between the normalised texts
    missing: tuple[str, ...] = ()
    extra: tuple[str, ...] = ()
    misspelled: tuple[Misspelling, ...] = ()
    target_words_used: tuple[str, ...] = ()
    target_words_missed: tuple[str, ...] = field(default=())


@runtime_checkable
class Evaluator(Protocol):
    """Evaluates what a learner said for the line expected of them."""

    name: str
    version: str

    def evaluate(self, said: str, line: ExpectedLine) -> Evaluation:
        """The evaluation of `said` against `line`; never raises for any text."""
        ...


class EvaluatorNotFound(LookupError):
    """No evaluator is installed under the name configured."""

    def __init__(self, name: str, installed: Sequence[str]) -> None:
        self.name = name
        self.installed = list(installed)
        super().__init__(
            f"no evaluator {name!r}: installed are {', '.join([BASELINE, *installed])} "
            f"(the {EVALUATOR_ENTRY_POINTS} entry points)"
        )


# Normalising


def _normal_words(shown: Sequence[str]) -> tuple[str, ...]:
    """`shown` without case, apostrophes or accents (the combining marks of the
    canonical decomposition), in one pass over all the words."""
    joined = "\n".join(shown).casefold().translate(_APOSTROPHES)
    if not joined.isascii():
        joined = _combining_marks().sub("", unicodedata.normalize("NFKD", joined))
    return tuple(joined.split("\n")) if shown else ()


@functools.cache
def _combining_marks() -> re.Pattern[str]:
    """Every character with a combining class (accents, diacritics), as one regular
    expression: built once, on first use (it reads the Unicode database)."""
    ranges: list[str] = []
    start = previous = -2
    for point in range(0x300, 0x20000):
        if unicodedata.combining(chr(point)):
            if point != previous + 1:
                if start >= 0:
                    ranges.append(_range(start, previous))
                start = point
            previous = point
    ranges.append(_range(start, previous))
    return re.compile(f"[{''.join(ranges)}]")


def _range(first: int, last: int) -> str:
    return re.escape(chr(first)) + (f"-{re.escape(chr(last))}" if last > first else "")


@dataclass(frozen=True, slots=True)
class Words:
    """A text as words: as written, and normalised (case, accents, apostrophes)."""

    shown: tuple[str, ...]
    normal: tuple[str, ...]

    @property
    def joined(self) -> str:
        return " ".join(self.normal)


@functools.lru_cache(maxsize=8192)
def words(text: str) -> Words:
    """`text` as words, punctuation, symbols and spacing left out, after NFKC (so that
    full-width letters and ligatures read as the letters they are)."""
    shown = tuple(_WORD.findall(unicodedata.normalize("NFKC", text)))
    return Words(shown, _normal_words(shown))


def normalise(text: str) -> str:
    """`text` without case, accents, punctuation, symbols or extra spacing:
    "¡Un CAFÉ, por favor!" is "un cafe por favor"."""
    return words(text).joined


# The baseline


class BaselineEvaluator:
    """The shipped evaluator: text similarity and word alignment with rapidfuzz,
    deterministic and offline."""

    name = BASELINE
    version = "1"

    def evaluate(self, said: str, line: ExpectedLine) -> Evaluation:
        """The evaluation of `said` against `line` and its variants."""
        spoken = words(said)
        candidates = [line.text, *line.variants]
        best_text, best = candidates[0], words(candidates[0])
        best_similarity = -1.0
        for candidate in candidates:
            written = words(candidate)
            similarity = fuzz.ratio(spoken.joined, written.joined)
            if similarity > best_similarity:
                best_text, best, best_similarity = candidate, written, similarity
            if similarity == 100:
                break
        missing, extra, misspelled, right = _align(best, spoken)
        used, missed = _targets(line.target_words, spoken, misspelled)
        if best_similarity == 100:
            score = 100
        else:
            size = max(len(best.normal), len(spoken.normal), 1)
            word_share = 100 * (right + 0.5 * len(misspelled)) / size
            score = round((best_similarity + word_share) / 2)
        return Evaluation(
            score=max(0, min(100, score)),
            matched=best_text,
            similarity=round(best_similarity, 2),
            missing=missing,
            extra=extra,
            misspelled=misspelled,
            target_words_used=used,
            target_words_missed=missed,
        )


def _align(
    expected: Words, said: Words
) -> tuple[tuple[str, ...], tuple[str, ...], tuple[Misspelling, ...], int]:
    """The words of `expected` that `said` leaves out, the words it adds, those it
    misspells, and how many it says right."""
    missing: list[str] = []
    extra: list[str] = []
    misspelled: list[Misspelling] = []
    right = 0
    for opcode in Levenshtein.opcodes(expected.normal, said.normal):
        tag, i1, i2 = opcode.tag, opcode.src_start, opcode.src_end
        j1, j2 = opcode.dest_start, opcode.dest_end
        if tag == "equal":
            right += i2 - i1
        elif tag == "delete":
            missing += expected.shown[i1:i2]
        elif tag == "insert":
            extra += said.shown[j1:j2]
        else:  # replace: pair them off in order; unlike words are one missing, one extra
            for k in range(max(i2 - i1, j2 - j1)):
                i, j = i1 + k, j1 + k
                if i < i2 and j < j2:
                    similar = Levenshtein.normalized_similarity(expected.normal[i], said.normal[j])
                    if similar >= MISSPELLING_SIMILARITY:
                        misspelled.append(Misspelling(expected.shown[i], said.shown[j]))
                    else:
                        missing.append(expected.shown[i])
                        extra.append(said.shown[j])
                elif i < i2:
                    missing.append(expected.shown[i])
                else:
                    extra.append(said.shown[j])
    return tuple(missing), tuple(extra), tuple(misspelled), right


def _targets(
    targets: Sequence[str], said: Words, misspelled: Sequence[Misspelling]
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The target words (or phrases) said, if misspelled, and those left out."""
    spoken = f" {said.joined} "
    near = set(said.normal) | {words(word.expected).joined for word in misspelled}
    used: list[str] = []
    missed: list[str] = []
    for target in targets:
        normal = words(target).normal
        said_it = bool(normal) and (
            f" {' '.join(normal)} " in spoken or all(word in near for word in normal)
        )
        (used if said_it else missed).append(target)
    return tuple(used), tuple(missed)


# Loading


def load_evaluator(name: str) -> Evaluator:
    """The evaluator named: `baseline`, or one installed under the
    `convobase.evaluators` entry points (a class or a factory called without
    arguments). EvaluatorNotFound names the installed ones; an entry point that builds
    something other than an Evaluator raises TypeError."""
    return _load(name)


@functools.lru_cache(maxsize=16)
def _load(name: str) -> Evaluator:
    if name == BASELINE:
        return BaselineEvaluator()
    installed = entry_points(group=EVALUATOR_ENTRY_POINTS)
    if name not in installed.names:
        raise EvaluatorNotFound(name, sorted(installed.names))
    factory: Callable[[], object] = installed[name].load()
    evaluator = factory()
    if not (
        isinstance(evaluator, Evaluator)
        and isinstance(evaluator.name, str)
        and isinstance(evaluator.version, str)
    ):
        raise TypeError(
            f"the {EVALUATOR_ENTRY_POINTS} entry point {name!r} built a "
            f"{type(evaluator).__name__}, not an Evaluator (name: str, version: str, "
            "evaluate(said, line))"
        )
    return evaluator


def hint(text: str) -> str:
    """`text` with each word cut to its first letter, the rest of its letters
    underscores, punctuation kept: "Un café, por favor." is "U_ c___, p__ f____."."""

    def masked(match: re.Match[str]) -> str:
        word = match.group(0)
        return word[0] + re.sub(r"[^\W_]", "_", word[1:])

    return _WORD.sub(masked, unicodedata.normalize("NFC", text))


def blank(text: str, word: str) -> str:
    """`text` with the first occurrence of `word` (compared as words are, without case
    or accents) replaced by a blank: "Un ____ con leche." for "café"."""
    target = words(word).normal
    normal_text = unicodedata.normalize("NFKC", text)
    found = list(_WORD.finditer(normal_text))
    shown = words(normal_text).normal
    for start in range(len(found) - len(target) + 1):
        if target and shown[start : start + len(target)] == target:
            first, last = found[start], found[start + len(target) - 1]
            return normal_text[: first.start()] + "____" + normal_text[last.end() :]
    return normal_text
