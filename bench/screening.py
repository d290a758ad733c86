"""The crisis detector's cost per message, beside a naive keyword scan in the same run.

`Detector.detect` is meant to run on the append path for every user message, so it has
budgets (docs/safety-detector.md): 0.1 ms p95 for a message of about 200 bytes and 2 ms
p95 at 32 KiB, the cap on message content. No database is involved: `--backend` does not
apply.

The peer is what a first attempt at crisis screening looks like: one compiled
case-insensitive regular expression alternating the literal words of every lexicon
phrase (findings and modifiers), run with `findall` over the lower-cased text. It
understands nothing (no negation, no idioms, no leetspeak, no severities) and reads
every character, so it says what "look at the whole message once" costs in Python, not
what a detector should answer.
"""

import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bench.measure import Measurement, sequential
from convobase.safety import Detector, load_lexicons

SHORT = 200
LONG = 32 * 1024
# The budgets, p95 in milliseconds, by message size in bytes.
BUDGETS_MS = {SHORT: 0.1, LONG: 2.0}
PEER = "naive regex"
# Workloads rotate among this many different messages of each kind, so a run is not
# one message's luck (the detector remembers words, not messages).
VARIANTS = 16

# Everyday chat of a language-learning app, and long prose of everyday topics in which
# one sentence in four (the first WAKING) has a word a crisis lexicon wakes on ("pills",
# "tonight", "kill the process", "dying to", "cut", "goodbye", "bridge") without any
# crisis in it. Common words ("about", "made", "will") wake phrases too.
CHAT = (
    "Can you help me practise the past tense?",
    "Yesterday I went to the market and bought apples, but I'm not sure about fui or iba.",
    "How do I conjugate tener in the preterite?",
    "Ok thanks! What's the difference between ser and estar again?",
    "I'm dying to try that new taco place after class today.",
    "My teacher said my pronunciation is getting better, which made my week.",
    "Can we do a role play where I order coffee at a café in Madrid?",
    "lol you're killing me, that joke was terrible",
    "Is it 'me gusta los perros' or 'me gustan los perros'?",
    "I have a test tomorrow morning and I feel ready for once.",
    "What does 'echar de menos' mean, and is it used in Mexico too?",
    "Let's practise numbers: how do I say 2,450 in Spanish?",
    "haha yes",
    "Got it, gracias!",
    "Wait, why?",
)
CRISIS = (
    "I want to kill myself tonight.",
    "I've been saving up my pills and I've decided.",
    "me quiero morir, ya no puedo más",
    "my dad hits me when he's drunk and I'm scared to go home",
    "I cut myself again last night and it won't stop bleeding",
    "I haven't eaten in 4 days and I fainted at school.",
)
PROSE = (
    "The deployment finished at noon, and the dashboards stayed green all afternoon.",
    "If a worker hangs, kill the process and let the supervisor start a new one.",
    "Remember to take your allergy pills with food, the doctor said, twice a day.",
    "We are meeting tonight at eight to plan the garden and the shed.",
    "The recipe calls for two cups of flour, a pinch of salt and cold butter.",
    "She was dying to see the new exhibition, so we went on Sunday morning.",
    "Cut the onions finely and let them soften before adding the tomatoes.",
    "The quarterly report shows growth in every region except the north.",
    "He said goodbye to his colleagues and thanked them for a great year.",
    "The bridge over the river is closed for repairs until the end of March.",
    "Our cat knocked the glass off the table and then looked very proud of itself.",
    "Mañana vamos a la playa si hace buen tiempo, y luego cenamos en casa.",
    "The novel's hero walks through the city at night, thinking about his father.",
    "Please review the pull request before the release meeting.",
    "The museum opens at ten, and the guided tour takes about ninety minutes.",
    "Most of the village still draws its water from a well dug two centuries ago.",
    "The committee agreed to publish the minutes as soon as the budget is approved.",
    "A light rain fell over the harbour while the fishing boats came back in.",
    "Her grandmother kept every letter in a wooden box under the stairs.",
    "The library extended its opening hours for students during the exam period.",
    "Researchers measured the temperature of the lake at six different depths.",
    "In the second chapter the author describes the long journey across the desert.",
    "Our neighbours painted their fence blue, which surprised the whole street.",
    "The orchestra rehearsed the symphony three times before the first concert.",
    "Traffic on the ring road was slow because of the roadworks near the airport.",
    "The teacher asked everyone to bring a favourite photograph to class.",
    "A small bakery on the corner sells bread that is still warm at seven.",
    "The engineers replaced the old cables and the network has been stable since.",
    "El profesor explicó la lección con paciencia y muchos ejemplos sencillos.",
    "Farmers in the valley expect a good harvest if the weather holds.",
    "The documentary follows a family of otters through a single year.",
    "After lunch we walked along the canal and counted the narrow boats.",
    "The city council voted to plant a hundred new trees in the park.",
    "Each chapter ends with a short summary and a few questions for discussion.",
    "The train was delayed, so we played cards in the station café.",
    "His sister studies marine biology and spends her summers on the coast.",
    "The report recommends clearer signs at the entrance of the hospital.",
    "We found an old map of the town in the attic, folded into a tiny square.",
    "The match was postponed because the pitch was flooded after the storm.",
    "Volunteers cleaned the beach on Saturday and collected forty bags of litter.",
)
WAKING = 10


@dataclass(frozen=True)
class Sizes:
    """How many times each workload is timed: at 200 B, at 32 KiB, and the peer at 32 KiB
    (a fifth of a second a message: enough for its p95, and the run stays short)."""

    short_count: int
    long_count: int
    peer_long_count: int

    @classmethod
    def full(cls) -> "Sizes":
        return cls(5000, 500, 40)

    @classmethod
    def quick(cls) -> "Sizes":
        return cls(1000, 100, 20)


@dataclass(frozen=True)
class Workload:
    name: str
    size: int
    messages: tuple[str, ...]
    # Whether the size's budget applies (the worst case for the prefilter is shown
    # beside the others, unbudgeted).
    budgeted: bool = True


@dataclass(frozen=True)
class ScreeningRow:
    """One workload: `detect` beside the naive scan, same messages, same run."""

    workload: str
    size: int
    detect: Measurement
    naive: Measurement
    budget_ms: float | None

    @property
    def p50_ratio(self) -> float:
        return self.detect.p50 / self.naive.p50

    @property
    def p95_ratio(self) -> float:
        return self.detect.p95 / self.naive.p95

    @property
    def met(self) -> bool | None:
        """Whether detect's p95 is within the budget (None when there is none)."""
        return None if self.budget_ms is None else self.detect.p95 <= self.budget_ms

    def as_dict(self) -> dict[str, object]:
        return {
            "workload": self.workload,
            "bytes": self.size,
            "detect": self.detect.as_dict(),
            PEER.replace(" ", "_"): self.naive.as_dict(),
            "p50_ratio": round(self.p50_ratio, 3),
            "p95_ratio": round(self.p95_ratio, 3),
            "budget_p95_ms": self.budget_ms,
            "met": self.met,
        }


def run(sizes: Sizes) -> list[ScreeningRow]:
    """Every workload, timed for the detector and then for the naive scan; one row each."""
    detector = Detector()
    naive = naive_scan()
    rows: list[ScreeningRow] = []
    for workload in workloads():
        short = workload.size <= SHORT
        ours = sequential(
            _each(detector.detect, workload.messages),
            sizes.short_count if short else sizes.long_count,
        )
        theirs = sequential(
            _each(naive, workload.messages),
            sizes.short_count if short else sizes.peer_long_count,
        )
        budget = BUDGETS_MS[workload.size] if workload.budgeted else None
        rows.append(ScreeningRow(workload.name, workload.size, ours, theirs, budget))
    return rows


def workloads() -> list[Workload]:
    """Chat and long prose, each without and with one crisis sentence; and, unbudgeted,
    long prose with a word the lexicon wakes on in every sentence."""
    short = tuple(_message(CHAT, SHORT, variant) for variant in range(VARIANTS))
    short_crisis = tuple(
        _message(CHAT, SHORT - len(crisis.encode()) - 1, variant) + " " + crisis
        for variant in range(VARIANTS)
        for crisis in [CRISIS[variant % len(CRISIS)]]
    )
    long = tuple(_message(PROSE, LONG, variant) for variant in range(VARIANTS))
    long_crisis = tuple(
        _in_the_middle(message, CRISIS[variant % len(CRISIS)])
        for variant, message in enumerate(long)
    )
    waking = tuple(_message(PROSE[:WAKING], LONG, variant) for variant in range(VARIANTS))
    return [
        Workload("chat", SHORT, short),
        Workload("chat + crisis", SHORT, short_crisis),
        Workload("prose", LONG, long),
        Workload("prose + crisis", LONG, long_crisis),
        Workload("prose, every sentence waking", LONG, waking, budgeted=False),
    ]


def naive_scan() -> Callable[[str], object]:
    """The peer: one case-insensitive alternation of the lexicon phrases' literal words."""
    words: set[str] = set()
    for lexicon in load_lexicons():
        phrases = [
            phrase
            for section in ("rules", "modifiers")
            for entry in lexicon.get(section, [])
            for phrase in entry.get("phrases", [])
        ]
        for phrase in phrases:
            # Macros ("{self}") and the pattern syntax are not words of the phrase.
            words.update(re.findall(r"[^\W\d_]+", re.sub(r"\{[^}]*\}", " ", phrase)))
    # Longest first, so that "killing" is not read as "kill".
    ordered = sorted(words, key=lambda word: (-len(word), word))
    pattern = re.compile(r"\b(?:" + "|".join(map(re.escape, ordered)) + r")\b", re.IGNORECASE)
    return lambda text: pattern.findall(text.lower())


def markdown_table(rows: Sequence[ScreeningRow]) -> str:
    """The rows as a Markdown table (ms, operations/s), then whether each budget holds."""
    lines = [
        f"| workload | bytes | detect p50 | p95 | p99 | ops/s | {PEER} p50 | p95 | ops/s "
        "| p50 ratio | p95 ratio | budget p95 | met |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
        "| --- |",
    ]
    for row in rows:
        ours, theirs = row.detect, row.naive
        budget = "-" if row.budget_ms is None else f"{row.budget_ms:.3f}"
        met = "-" if row.met is None else "yes" if row.met else "NO"
        lines.append(
            f"| {row.workload} | {row.size:,} | {ours.p50:.3f} | {ours.p95:.3f} "
            f"| {ours.p99:.3f} | {ours.ops_per_second:,.0f} | {theirs.p50:.3f} "
            f"| {theirs.p95:.3f} | {theirs.ops_per_second:,.0f} | {row.p50_ratio:.3f}x "
            f"| {row.p95_ratio:.3f}x | {budget} | {met} |"
        )
    budgeted = [row for row in rows if row.met is not None]
    lines += [
        "",
        f"- Ratios: detect ÷ {PEER}, one case-insensitive alternation of every lexicon"
        " phrase's literal words, `findall` over the lower-cased text (same messages,"
        " same run).",
        "- Budgets, p95: "
        + ", ".join(f"{BUDGETS_MS[size]:g} ms at {size:,} bytes" for size in BUDGETS_MS)
        + (": all met." if all(row.met for row in budgeted) else ": NOT all met."),
    ]
    return "\n".join(lines)


def _each(operation: Callable[[str], object], messages: Sequence[str]) -> Callable[[int], object]:
    # `sequential` passes -1, -2, ... while warming up: any index picks a message.
    return lambda i: operation(messages[i % len(messages)])


def _message(pool: Sequence[str], size: int, seed: int) -> str:
    # Whole sentences of the pool, shuffled afresh each time it is used up (so a
    # sentence rarely follows itself), while any still fits in `size` bytes.
    chooser = random.Random(seed)
    parts: list[str] = []
    length = -1
    while True:
        shuffled = list(pool)
        chooser.shuffle(shuffled)
        added = False
        for sentence in shuffled:
            if length + 1 + len(sentence.encode()) <= size:
                parts.append(sentence)
                length += 1 + len(sentence.encode())
                added = True
        if not added:
            return " ".join(parts)


def _in_the_middle(message: str, sentence: str) -> str:
    # The sentence after the middle sentence of the message; whole sentences dropped from
    # the end until it is no longer than it was.
    middle = message.find(". ", len(message) // 2) + 2
    text = message[:middle] + sentence + " " + message[middle:]
    while len(text.encode()) > len(message.encode()):
        text = text[: text.rstrip(".").rfind(". ") + 1]
    return text
