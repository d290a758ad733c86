import hashlib
import hmac
import json
import socket
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from importlib.metadata import EntryPoint, EntryPoints
from importlib.resources import files
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from pydantic import SecretStr

from convobase.analysis import analyzers
from convobase.analysis.analyzer import (
    AnalysisBatch,
    Analyzer,
    AnalyzerFailed,
    Assessment,
    BatchMessage,
)
from convobase.analysis.analyzers import (
    ANALYZER_ENTRY_POINTS,
    BaselineAnalyzer,
    WebhookAnalyzer,
    load_analyzer,
)
from convobase.config import ConfigurationError, Settings
from convobase.core import webhooks
from convobase.core.webhooks import SIGNATURE_HEADER
from tests.webhooks import SECRET, webhook_server

SHORT_TIMEOUT = 0.2

baseline = BaselineAnalyzer()


def batch_of(*texts: str, goals: Sequence[str] = ()) -> AnalysisBatch:
    start = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    return AnalysisBatch(
        user_id=uuid.UUID(int=7),
        batch=1,
        stage=1,
        goals=list(goals),
        messages=[
            BatchMessage(
                id=uuid.UUID(int=100 + index),
                conversation_id=uuid.UUID(int=1),
                seq=index + 1,
                content=text,
                created_at=start + timedelta(minutes=index),
            )
            for index, text in enumerate(texts)
        ],
    )


def webhook(url: str, *, secret: str = SECRET, timeout: float = 5.0) -> WebhookAnalyzer:
    return WebhookAnalyzer(url, secret, timeout=timeout)


def schema(name: str) -> dict[str, Any]:
    text = files("convobase.analysis").joinpath(name).read_text()
    loaded: dict[str, Any] = json.loads(text)
    return loaded


# The baseline


def test_baseline_gives_the_same_assessment_for_the_same_batch() -> None:
    batch = batch_of(
        "I practised my Spanish today and it went well!",
        "Why do verbs change in the past tense?",
        "Thanks, that makes sense now.",
        goals=["Speak Spanish with my in-laws"],
    )

    assert BaselineAnalyzer().analyze(batch) == BaselineAnalyzer().analyze(batch)


def test_baseline_says_it_is_a_baseline_and_not_a_judgement() -> None:
    insights = baseline.analyze(batch_of("Hello there, how are you?")).insights

    assert insights["analyzer"] == "baseline"
    assert "not a judgement of the person" in insights["note"]


def test_baseline_score_is_the_sum_of_its_documented_sub_scores() -> None:
    assessment = baseline.analyze(
        batch_of("I want to run a marathon next spring.", "How often should I train?")
    )

    sub_scores = [assessment.insights[signal]["score"] for signal in ("engagement", "goals")]
    sub_scores.append(assessment.insights["sentiment"]["score"])
    assert assessment.chat_score == sum(Decimal(str(score)) for score in sub_scores)


@given(
    texts=st.lists(st.text(max_size=300), max_size=30),
    goals=st.lists(st.text(max_size=60), max_size=5),
)
def test_baseline_scores_any_batch_between_0_and_14(texts: list[str], goals: list[str]) -> None:
    assessment = baseline.analyze(batch_of(*texts, goals=goals))

    assert Decimal(0) <= assessment.chat_score <= Decimal(14)


def test_baseline_gives_full_points_for_long_questioning_goal_minded_messages() -> None:
    glowing = "I love how much better my Spanish is getting, this is wonderful and amazing! " * 3
    gloomy = "This is awful, I hate it and feel terrible and sad. " * 3
    batch = batch_of(
        *[gloomy + "Why?"] * 12, *[glowing + "Can we go on?"] * 13, goals=["learn Spanish"]
    )

    assessment = baseline.analyze(batch)

    assert assessment.chat_score <= Decimal(14)
    assert assessment.insights["engagement"]["score"] == 5.0
    assert assessment.insights["goals"]["score"] == 4.0


def test_baseline_goals_score_rises_when_the_batch_mentions_the_users_goals() -> None:
    goals = ["Improve my public speaking", "Run a marathon"]
    silent = baseline.analyze(batch_of("I had a quiet day at work.", goals=goals))
    mentioning = baseline.analyze(
        batch_of("My speaking at the meeting went fine.", "The MARATHON is in May.", goals=goals)
    )

    assert silent.insights["goals"]["score"] == 0.0
    assert "goals_not_mentioned" in silent.improvement_areas
    assert mentioning.insights["goals"] == {"score": 4.0, "goals": 2, "mentioned": 2}
    assert "mentions_goals" in mentioning.strengths_identified


def test_baseline_scores_a_rising_sentiment_above_a_falling_one() -> None:
    sad = ["This is awful and I feel terrible.", "I hate how hard this is."]
    glad = ["This is great, I love it!", "I feel wonderful and happy now."]

    rising = baseline.analyze(batch_of(*sad, *glad))
    falling = baseline.analyze(batch_of(*glad, *sad))

    assert rising.insights["sentiment"]["score"] > falling.insights["sentiment"]["score"]
    assert "rising_sentiment" in rising.strengths_identified
    assert "falling_sentiment" in falling.improvement_areas


def test_baseline_labels_short_messages_without_questions() -> None:
    assessment = baseline.analyze(batch_of("ok", "sure", "fine thanks"))

    assert assessment.improvement_areas == ["short_messages", "no_questions"]


def test_baseline_answers_an_empty_batch_with_a_score_of_zero() -> None:
    assessment = baseline.analyze(batch_of())

    assert assessment.chat_score == Decimal(0)
    assert assessment.insights["messages"] == 0
    assert "no messages" in assessment.insights["empty"]


# The webhook


def test_webhook_schemas_are_valid_draft_2020_12() -> None:
    for name in ("webhook_request.schema.json", "webhook_answer.schema.json"):
        Draft202012Validator.check_schema(schema(name))


def test_webhook_analyzer_posts_the_batch_as_the_request_schema_describes() -> None:
    batch = batch_of("Hola, ¿qué tal?", "Estoy bien 🙂", goals=["Speak Spanish"])

    with webhook_server() as (url, accepted):
        webhook(url).analyze(batch)

    sent = json.loads(accepted[0])
    request_schema = schema("webhook_request.schema.json")
    Draft202012Validator(
        request_schema, format_checker=Draft202012Validator.FORMAT_CHECKER
    ).validate(sent)
    assert sent["user_id"] == str(batch.user_id)
    assert [message["content"] for message in sent["messages"]] == [
        "Hola, ¿qué tal?",
        "Estoy bien 🙂",
    ]
    assert sent["messages"][0]["created_at"] == "2026-01-05T09:00:00+00:00"


def test_webhook_analyzer_signs_the_body_with_a_timestamp(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    moment = datetime.now(UTC).replace(microsecond=0)
    monkeypatch.setattr(webhooks, "utc_now", lambda: moment)
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"chat_score": 3})

    with httpx.Client(transport=httpx.MockTransport(answer)) as client:
        WebhookAnalyzer("https://coach.example/analyze", SECRET, timeout=1, client=client).analyze(
            batch_of("Hello")
        )

    request = seen[0]
    timestamp = int(moment.timestamp())
    signed = f"{timestamp}.".encode() + request.content
    digest = hmac.new(SECRET.encode(), signed, hashlib.sha256).hexdigest()
    assert request.headers[SIGNATURE_HEADER] == f"t={timestamp},v1={digest}"
    assert request.headers["Content-Type"] == "application/json"


def test_webhook_analyzer_turns_the_answer_into_an_assessment() -> None:
    answer = {
        "chat_score": 7.25,
        "insights": {"model": "coach-2", "topics": ["travel"]},
        "improvement_areas": ["vary_vocabulary"],
        "strengths_identified": ["asks_questions"],
    }

    with webhook_server(answer=json.dumps(answer).encode()) as (url, _):
        assessment = webhook(url).analyze(batch_of("Hello"))

    assert assessment.chat_score == Decimal("7.3")
    assert assessment.insights == answer["insights"]
    assert assessment.improvement_areas == ["vary_vocabulary"]
    assert assessment.strengths_identified == ["asks_questions"]


def test_webhook_analyzer_rounds_a_score_just_under_14_to_14() -> None:
    with webhook_server(answer=b'{"chat_score": 13.96}') as (url, _):
        assert webhook(url).analyze(batch_of("Hi")).chat_score == Decimal("14.0")


def test_webhook_analyzer_fails_when_the_webhook_is_too_slow() -> None:
    with webhook_server(answer=None) as (url, _), pytest.raises(AnalyzerFailed, match="within"):
        webhook(url, timeout=SHORT_TIMEOUT).analyze(batch_of("Hello"))


def test_webhook_analyzer_fails_when_nothing_listens() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    with pytest.raises(
        AnalyzerFailed, match="request to the analyzer webhook failed: ConnectError"
    ):
        webhook(f"http://127.0.0.1:{port}/analyze").analyze(batch_of("Hello"))


def test_webhook_analyzer_fails_on_an_error_status() -> None:
    with (
        webhook_server(status=500, answer=b'{"chat_score": 7}') as (url, _),
        pytest.raises(AnalyzerFailed, match="HTTP 500"),
    ):
        webhook(url).analyze(batch_of("Hello"))


def test_webhook_analyzer_with_the_wrong_secret_is_refused_and_fails() -> None:
    other_secret = "another-secret-that-is-also-long-enough-to-use"
    with (
        webhook_server() as (url, accepted),
        pytest.raises(AnalyzerFailed, match="HTTP 401") as failure,
    ):
        webhook(url, secret=other_secret).analyze(batch_of("Hello"))

    assert accepted == []
    assert other_secret not in str(failure.value)


@pytest.mark.parametrize(
    "answer", [b"{not json", b'{"chat_score": NaN}', b"\xff\xfe", b"[" * 100_000]
)
def test_webhook_analyzer_fails_on_an_answer_that_is_not_json(answer: bytes) -> None:
    with webhook_server(answer=answer) as (url, _), pytest.raises(AnalyzerFailed, match="not JSON"):
        webhook(url).analyze(batch_of("Hello"))


@pytest.mark.parametrize(
    "answer",
    [
        {"chat_score": 15},
        {"chat_score": -0.1},
        {"chat_score": "7"},
        {"chat_score": True},
        {"chat_score": 7, "verdict": "good"},
        {"insights": {}},
        {"chat_score": 7, "improvement_areas": ["x" * 201]},
        {"chat_score": 7, "strengths_identified": ["fine"] * 21},
        [7],
    ],
)
def test_webhook_analyzer_fails_on_an_answer_outside_the_schema(answer: object) -> None:
    with (
        webhook_server(answer=json.dumps(answer).encode()) as (url, _),
        pytest.raises(AnalyzerFailed, match=r"does not match webhook_answer\.schema\.json"),
    ):
        webhook(url).analyze(batch_of("Hello"))


def test_webhook_analyzer_fails_on_an_oversized_answer() -> None:
    huge = json.dumps({"chat_score": 7, "insights": {"padding": "x" * 300_000}}).encode()

    with webhook_server(answer=huge) as (url, _), pytest.raises(AnalyzerFailed, match="larger"):
        webhook(url).analyze(batch_of("Hello"))


# Choosing an analyzer


def settings(**overrides: Any) -> Settings:
    return Settings(database_url="sqlite:///:memory:", **overrides)


def test_load_analyzer_gives_the_baseline_by_default() -> None:
    assert isinstance(load_analyzer(settings()), BaselineAnalyzer)


def test_load_analyzer_builds_the_webhook_from_the_settings() -> None:
    analyzer = load_analyzer(
        settings(
            analyzer="webhook",
            analyzer_url="https://coach.example/analyze",
            analyzer_secret=SecretStr(SECRET),
        )
    )

    assert isinstance(analyzer, WebhookAnalyzer)


@pytest.mark.parametrize(
    ("url", "secret", "complaint"),
    [
        ("https://coach.example/analyze", None, "CONVOBASE_ANALYZER_SECRET"),
        ("https://coach.example/analyze", "too-short", "at least 32 characters"),
        (None, SECRET, "CONVOBASE_ANALYZER_URL"),
    ],
)
def test_load_analyzer_refuses_a_webhook_without_its_url_or_a_long_secret(
    url: str | None, secret: str | None, complaint: str
) -> None:
    incomplete = settings(
        analyzer="webhook",
        analyzer_url=url,
        analyzer_secret=SecretStr(secret) if secret is not None else None,
    )

    with pytest.raises(ConfigurationError, match=complaint):
        load_analyzer(incomplete)


def test_load_analyzer_refuses_an_unknown_name_and_lists_the_known_ones() -> None:
    with pytest.raises(ConfigurationError, match="baseline, webhook"):
        load_analyzer(settings(analyzer="no-such-analyzer"))


class ConstantAnalyzer:
    name = "constant"

    def analyze(self, batch: AnalysisBatch) -> Assessment:
        return Assessment(chat_score=Decimal("7.0"))


def constant_analyzer(settings: Settings) -> Analyzer:
    return ConstantAnalyzer()


def test_load_analyzer_finds_a_plug_in_in_the_entry_point_group(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    plug_in = EntryPoint(
        name="constant", value=f"{__name__}:constant_analyzer", group=ANALYZER_ENTRY_POINTS
    )
    groups = {ANALYZER_ENTRY_POINTS: EntryPoints([plug_in])}
    monkeypatch.setattr(analyzers, "entry_points", lambda group: groups.get(group, EntryPoints()))

    assert isinstance(load_analyzer(settings(analyzer="constant")), ConstantAnalyzer)
    with pytest.raises(ConfigurationError, match="baseline, webhook, constant"):
        load_analyzer(settings(analyzer="other"))
