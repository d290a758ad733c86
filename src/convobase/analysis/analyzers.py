"""The analyzers convobase ships, and the choice among them and any installed ones.

`BaselineAnalyzer` scores measurable signals of a batch without any model or network;
`WebhookAnalyzer` hands the batch to a service of your own and checks its answer. The
contract of both, and how to plug in another, is in docs/analyzers.md.
"""

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from importlib.metadata import entry_points
from importlib.resources import files
from statistics import fmean
from typing import Any, NoReturn

import httpx
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from convobase.analysis.analyzer import AnalysisBatch, Analyzer, AnalyzerFailed, Assessment
from convobase.config import ConfigurationError, Settings
from convobase.core.webhooks import SIGNATURE_HEADER, signature, signing_secret

ANALYZER_ENTRY_POINTS = "convobase.analyzers"
MAX_ANSWER_BYTES = 256 * 1024

TENTH = Decimal("0.1")
WORD = re.compile(r"\w+(?:'\w+)*")

# Engagement, 0..5: mean words per message (2 points, full at 20 words), the share of
# messages of at least 5 words (2 points), and messages asking a question (1 point, full at 3).
MEAN_WORDS_FOR_FULL_POINTS = 20
SUBSTANTIVE_MESSAGE_WORDS = 5
QUESTIONS_FOR_FULL_POINTS = 3
DETAILED_MEAN_WORDS = 15
SHORT_MEAN_WORDS = 5

# Goals, 0..4: the share of the user's goals that the batch mentions.
GOALS_POINTS = 4
MIN_GOAL_WORD_LENGTH = 3
# Words that say little about which goal is meant: "improve my Spanish" is about Spanish.
COMMON_GOAL_WORDS = frozenset(
    """
    the and for with about into from that this these those have has had was were are
    will would could should can get got more most less much many some any very really
    just also than then them they their there what when where which who how why not but
    you your our its all each every want wants like make become better improve learn
    learning able day days time week weeks month months year years
    """.split()  # noqa: SIM905 (a list literal of 80 words would be a page long)
)

# Sentiment, 0..5: the mean VADER compound (2.5 points, from -1 to 1), and its change
# from the first half of the batch to the second (2.5 points, from -0.5 to +0.5 and over).
SENTIMENT_LEVEL_POINTS = 2.5
SENTIMENT_CHANGE_POINTS = 2.5
SENTIMENT_CHANGE_CAP = 0.5
# VADER's own conventional cut-off between neutral and positive or negative text.
SENTIMENT_POLARITY = 0.05
SENTIMENT_TREND = 0.1

BASELINE_NOTE = (
    "A baseline computed from measurable signals of the messages (length, questions, "
    "words of the user's goals, VADER sentiment); it is not a judgement of the person."
)


def tenths(value: float) -> Decimal:
    """Round a number half up to one decimal, as chat scores are kept."""
    return Decimal(str(value)).quantize(TENTH, rounding=ROUND_HALF_UP)


@dataclass(frozen=True, slots=True)
class _Signal:
    score: Decimal
    measured: dict[str, float | int]
    strengths: tuple[str, ...] = ()
    improvements: tuple[str, ...] = ()


class BaselineAnalyzer:
    """A deterministic baseline: engagement, goal mentions and sentiment trend, 0..14.

    It measures the text and nothing more. It is a baseline to start from, not a
    judgement of the person who wrote the messages.
    """

    name: str = "baseline"

    def __init__(self) -> None:
        self._sentiment = SentimentIntensityAnalyzer()

    def analyze(self, batch: AnalysisBatch) -> Assessment:
        """Score the batch's engagement, goal mentions and sentiment trend."""
        preamble: dict[str, Any] = {
            "analyzer": self.name,
            "note": BASELINE_NOTE,
            "messages": len(batch.messages),
        }
        if not batch.messages:
            return Assessment(
                chat_score=Decimal("0.0"),
                insights={**preamble, "empty": "The batch has no messages; nothing was measured."},
            )
        texts = [message.content for message in batch.messages]
        signals = {
            "engagement": _engagement(texts),
            "goals": _goals(batch.goals, texts),
            "sentiment": _sentiment_trend(
                [self._sentiment.polarity_scores(text)["compound"] for text in texts]
            ),
        }
        return Assessment(
            chat_score=sum((signal.score for signal in signals.values()), Decimal("0.0")),
            insights={
                **preamble,
                **{
                    name: {"score": float(signal.score), **signal.measured}
                    for name, signal in signals.items()
                },
            },
            strengths_identified=[s for signal in signals.values() for s in signal.strengths],
            improvement_areas=[i for signal in signals.values() for i in signal.improvements],
        )


def _engagement(texts: Sequence[str]) -> _Signal:
    word_counts = [len(WORD.findall(text)) for text in texts]
    mean_words = fmean(word_counts)
    substantive_share = sum(n >= SUBSTANTIVE_MESSAGE_WORDS for n in word_counts) / len(texts)
    questions = sum("?" in text for text in texts)
    score = (
        2 * min(mean_words / MEAN_WORDS_FOR_FULL_POINTS, 1.0)
        + 2 * substantive_share
        + min(questions / QUESTIONS_FOR_FULL_POINTS, 1.0)
    )
    strengths = []
    improvements = []
    if mean_words >= DETAILED_MEAN_WORDS:
        strengths.append("detailed_messages")
    if mean_words < SHORT_MEAN_WORDS:
        improvements.append("short_messages")
    if questions >= QUESTIONS_FOR_FULL_POINTS:
        strengths.append("asks_questions")
    if questions == 0:
        improvements.append("no_questions")
    return _Signal(
        score=tenths(score),
        measured={
            "mean_words": round(mean_words, 4),
            "substantive_share": round(substantive_share, 4),
            "questions": questions,
        },
        strengths=tuple(strengths),
        improvements=tuple(improvements),
    )


def _significant_words(text: str) -> set[str]:
    return {
        word
        for word in WORD.findall(text.casefold())
        if len(word) >= MIN_GOAL_WORD_LENGTH and word not in COMMON_GOAL_WORDS
    }


def _goals(goals: Sequence[str], texts: Sequence[str]) -> _Signal:
    batch_words = set(WORD.findall(" ".join(texts).casefold()))
    mentioned = 0
    for goal in goals:
        goal_words = _significant_words(goal)
        if goal_words and 2 * len(goal_words & batch_words) >= len(goal_words):
            mentioned += 1
    share = mentioned / len(goals) if goals else 0.0
    return _Signal(
        score=tenths(GOALS_POINTS * share),
        measured={"goals": len(goals), "mentioned": mentioned},
        strengths=("mentions_goals",) if mentioned else (),
        improvements=("goals_not_mentioned",) if goals and not mentioned else (),
    )


def _sentiment_trend(compounds: Sequence[float]) -> _Signal:
    mean = fmean(compounds)
    middle = len(compounds) // 2
    # One message has no halves to compare: its trend is flat.
    first_half = fmean(compounds[:middle]) if middle else mean
    second_half = fmean(compounds[middle:])
    change = second_half - first_half
    capped_change = max(-SENTIMENT_CHANGE_CAP, min(change, SENTIMENT_CHANGE_CAP))
    score = SENTIMENT_LEVEL_POINTS * (mean + 1) / 2 + SENTIMENT_CHANGE_POINTS * (
        capped_change + SENTIMENT_CHANGE_CAP
    ) / (2 * SENTIMENT_CHANGE_CAP)
    strengths = []
    improvements = []
    if mean >= SENTIMENT_POLARITY:
        strengths.append("positive_sentiment")
    if mean <= -SENTIMENT_POLARITY:
        improvements.append("negative_sentiment")
    if change >= SENTIMENT_TREND:
        strengths.append("rising_sentiment")
    if change <= -SENTIMENT_TREND:
        improvements.append("falling_sentiment")
    return _Signal(
        score=tenths(score),
        measured={
            "mean": round(mean, 4),
            "first_half": round(first_half, 4),
            "second_half": round(second_half, 4),
            "change": round(change, 4),
        },
        strengths=tuple(strengths),
        improvements=tuple(improvements),
    )


class WebhookAnalyzer:
    """Assesses a batch by POSTing it, signed, to a service of your own."""

    name: str = "webhook"

    def __init__(
        self, url: str, secret: str, *, timeout: float, client: httpx.Client | None = None
    ) -> None:
        self._url = url
        self._secret = secret.encode()
        self._timeout = timeout
        self._client = client

    def analyze(self, batch: AnalysisBatch) -> Assessment:
        """POST the batch and turn the service's answer into an Assessment."""
        body = json.dumps(request_body(batch), separators=(",", ":")).encode()
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: signature(self._secret, body),
        }
        try:
            if self._client is not None:
                raw_answer = self._post(self._client, body, headers)
            else:
                with httpx.Client() as client:
                    raw_answer = self._post(client, body, headers)
        except httpx.TimeoutException as error:
            raise AnalyzerFailed(
                f"the analyzer webhook did not answer within {self._timeout}s"
            ) from error
        except (httpx.HTTPError, httpx.InvalidURL) as error:
            # The error's type, not its text: that may repeat the URL and a token in it.
            raise AnalyzerFailed(
                f"the request to the analyzer webhook failed: {type(error).__name__}"
            ) from error
        return _assessment_from(raw_answer)

    def _post(self, client: httpx.Client, body: bytes, headers: dict[str, str]) -> bytes:
        with client.stream(
            "POST", self._url, content=body, headers=headers, timeout=self._timeout
        ) as response:
            if not response.is_success:
                raise AnalyzerFailed(f"the analyzer webhook answered HTTP {response.status_code}")
            answer = bytearray()
            for chunk in response.iter_bytes():
                answer += chunk
                if len(answer) > MAX_ANSWER_BYTES:
                    raise AnalyzerFailed(
                        f"the analyzer webhook's answer is larger than {MAX_ANSWER_BYTES} bytes"
                    )
            return bytes(answer)


def request_body(batch: AnalysisBatch) -> dict[str, Any]:
    """The JSON the webhook analyzer POSTs (webhook_request.schema.json)."""
    return {
        "user_id": str(batch.user_id),
        "batch": batch.batch,
        "stage": batch.stage,
        "goals": list(batch.goals),
        "messages": [
            {
                "id": str(message.id),
                "conversation_id": str(message.conversation_id),
                "seq": message.seq,
                "content": message.content,
                "created_at": _rfc3339(message.created_at),
            }
            for message in batch.messages
        ],
    }


def _rfc3339(moment: datetime) -> str:
    # SQLite hands datetimes back without a zone; convobase stores them in UTC.
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat()


@cache
def answer_validator() -> Draft202012Validator:
    """The validator of the webhook's answer, built once from webhook_answer.schema.json."""
    schema = files("convobase.analysis").joinpath("webhook_answer.schema.json").read_text()
    return Draft202012Validator(json.loads(schema))


def _reject_non_finite(constant: str) -> NoReturn:
    raise ValueError(f"{constant} is not a JSON number")


def _assessment_from(raw_answer: bytes) -> Assessment:
    try:
        answer = json.loads(raw_answer, parse_constant=_reject_non_finite)
    except (ValueError, RecursionError) as error:
        raise AnalyzerFailed("the analyzer webhook's answer is not JSON") from error
    mismatch = best_match(answer_validator().iter_errors(answer))
    if mismatch is not None:
        raise AnalyzerFailed(
            "the analyzer webhook's answer does not match webhook_answer.schema.json at "
            f"{mismatch.json_path}: {mismatch.message[:200]}"
        )
    return Assessment(
        chat_score=tenths(answer["chat_score"]),
        insights=answer.get("insights", {}),
        improvement_areas=answer.get("improvement_areas", []),
        strengths_identified=answer.get("strengths_identified", []),
    )


def load_analyzer(settings: Settings) -> Analyzer:
    """The analyzer CONVOBASE_ANALYZER names: baseline, webhook, or an installed plug-in."""
    if settings.analyzer == "baseline":
        return BaselineAnalyzer()
    if settings.analyzer == "webhook":
        return _webhook_analyzer(settings)
    plugins = entry_points(group=ANALYZER_ENTRY_POINTS)
    if settings.analyzer in plugins.names:
        factory: Callable[[Settings], Analyzer] = plugins[settings.analyzer].load()
        return factory(settings)
    known = ", ".join(["baseline", "webhook", *sorted(plugins.names)])
    raise ConfigurationError(
        f"CONVOBASE_ANALYZER={settings.analyzer!r} is not a known analyzer: {known}."
    )


def _webhook_analyzer(settings: Settings) -> WebhookAnalyzer:
    if not settings.analyzer_url:
        raise ConfigurationError("The webhook analyzer needs CONVOBASE_ANALYZER_URL.")
    secret = signing_secret(settings.analyzer_secret, "CONVOBASE_ANALYZER_SECRET")
    return WebhookAnalyzer(
        settings.analyzer_url, secret.decode(), timeout=settings.analyzer_timeout_seconds
    )
