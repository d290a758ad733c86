import asyncio
import json
import logging
import re
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from convobase.core.logging import (
    JsonFormatter,
    RequestLogMiddleware,
    TextFormatter,
    configure_logging,
    log_unexpected_error,
)

ITEM_ID = "item-7f3a9c"
BEARER_TOKEN = "bearer-secret-4d1e"
QUERY_SECRET = "query-secret-88b2"

RequestLog = Callable[[], list[dict[str, Any]]]


async def internal_error_handler(request: Request, error: Exception) -> JSONResponse:
    """As `convobase.core.problems` does: log the failure under the request's id."""
    log_unexpected_error(request.scope.get("state", {}).get("request_id"), error)
    return JSONResponse({"code": "internal_error"}, status_code=500)


def build_app() -> FastAPI:
    """A tiny app with an error handler wired as `convobase.app` wires the real one."""
    app = FastAPI()
    app.add_exception_handler(Exception, internal_error_handler)

    @app.get("/items/{item_id}")
    async def read_item(item_id: str) -> dict[str, str]:
        return {"item_id": item_id}

    @app.get("/me")
    async def read_me(request: Request) -> dict[str, str]:
        request.state.caller_kind = "user"
        return {"request_id": request.state.request_id}

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("boom")

    return app


@pytest.fixture
def client() -> Iterator[TestClient]:
    app = build_app()
    app.add_middleware(RequestLogMiddleware)  # as convobase.app installs it
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def request_log(caplog: pytest.LogCaptureFixture) -> RequestLog:
    """The lines written on `convobase.request` so far, as the JSON formatter writes them."""
    caplog.set_level(logging.INFO, logger="convobase.request")
    formatter = JsonFormatter()
    return lambda: [
        json.loads(formatter.format(r)) for r in caplog.records if r.name == "convobase.request"
    ]


def a_record(**extra: object) -> logging.LogRecord:
    record = logging.LogRecord(
        name="convobase.request",
        level=logging.INFO,
        pathname=__file__,
        lineno=1,
        msg="%s %s %s",
        args=("GET", "/items/{item_id}", 200),
        exc_info=None,
    )
    record.__dict__.update(extra)
    return record


def a_failure() -> logging.LogRecord:
    try:
        raise ValueError("the failure's own words")
    except ValueError:
        record = logging.LogRecord(
            name="convobase.error",
            level=logging.ERROR,
            pathname=__file__,
            lineno=1,
            msg="unexpected %s",
            args=("ValueError",),
            exc_info=sys.exc_info(),
        )
    return record


def run_asgi(app: ASGIApp, scope: Scope) -> list[Message]:
    """Run one request through `RequestLogMiddleware(app)`; return what it sent."""
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    async def main() -> None:
        await RequestLogMiddleware(app)(scope, receive, send)

    asyncio.run(main())
    return sent


def an_http_scope() -> Scope:
    return {"type": "http", "method": "GET", "path": "/raw/42", "headers": [], "query_string": b""}


def test_each_request_logs_one_line_with_the_route_template(
    client: TestClient, request_log: RequestLog
) -> None:
    client.get(f"/items/{ITEM_ID}")

    [entry] = request_log()
    assert entry["level"] == "INFO"
    assert entry["message"] == "GET /items/{item_id} 200"
    assert entry["route"] == "/items/{item_id}"
    assert ITEM_ID not in json.dumps(entry)


def test_the_line_carries_method_status_caller_and_a_positive_duration(
    client: TestClient, request_log: RequestLog
) -> None:
    client.get(f"/items/{ITEM_ID}")

    [entry] = request_log()
    assert (entry["method"], entry["status"], entry["caller"]) == ("GET", 200, "anonymous")
    assert isinstance(entry["duration_ms"], float)
    assert entry["duration_ms"] > 0
    assert entry["duration_ms"] == round(entry["duration_ms"], 2)


def test_the_response_echoes_the_logged_request_id(
    client: TestClient, request_log: RequestLog
) -> None:
    response = client.get(f"/items/{ITEM_ID}")

    [entry] = request_log()
    assert re.fullmatch(r"[0-9a-f]{32}", entry["request_id"])
    assert response.headers["x-request-id"] == entry["request_id"]


def test_the_app_reads_the_request_id_from_request_state(
    client: TestClient, request_log: RequestLog
) -> None:
    response = client.get("/me")

    [entry] = request_log()
    assert response.json()["request_id"] == entry["request_id"] == response.headers["x-request-id"]


@pytest.mark.parametrize(
    "request_id",
    ["3b2c1d0e-client-chosen", "x" * 128, "!~#:/=?"],
    ids=["plain", "128-characters", "punctuation"],
)
def test_a_valid_incoming_request_id_is_reused(
    client: TestClient, request_log: RequestLog, request_id: str
) -> None:
    response = client.get(f"/items/{ITEM_ID}", headers={"X-Request-ID": request_id})

    [entry] = request_log()
    assert entry["request_id"] == request_id
    assert response.headers["x-request-id"] == request_id


@pytest.mark.parametrize(
    "request_id",
    [b"has a space", b"x" * 129, b"x" * 300, b"", b"tab\there", b"caf\xc3\xa9"],
    ids=["space", "129-characters", "300-characters", "empty", "tab", "non-ascii"],
)
def test_an_invalid_incoming_request_id_is_replaced(
    client: TestClient, request_log: RequestLog, request_id: bytes
) -> None:
    response = client.get(f"/items/{ITEM_ID}", headers={b"X-Request-ID": request_id})

    [entry] = request_log()
    assert re.fullmatch(r"[0-9a-f]{32}", entry["request_id"])
    assert response.headers.get_list("x-request-id") == [entry["request_id"]]


def test_each_request_gets_its_own_id(client: TestClient, request_log: RequestLog) -> None:
    client.get(f"/items/{ITEM_ID}")
    client.get(f"/items/{ITEM_ID}")

    first, second = request_log()
    assert first["request_id"] != second["request_id"]


def test_the_caller_kind_the_app_sets_is_logged(
    client: TestClient, request_log: RequestLog
) -> None:
    client.get("/me")

    [entry] = request_log()
    assert entry["caller"] == "user"


def test_an_unknown_path_logs_unmatched_rather_than_the_raw_path(
    client: TestClient, request_log: RequestLog
) -> None:
    response = client.get(f"/nowhere/{ITEM_ID}")

    [entry] = request_log()
    assert response.status_code == 404
    assert (entry["route"], entry["status"]) == ("unmatched", 404)
    assert entry["message"] == "GET unmatched 404"


def test_a_route_that_raises_logs_one_line_with_status_500(
    client: TestClient, request_log: RequestLog
) -> None:
    response = client.get("/boom")

    [entry] = request_log()
    assert response.status_code == 500
    assert (entry["route"], entry["status"]) == ("/boom", 500)


def test_the_error_handler_logs_the_failure_under_the_same_request_id(
    client: TestClient, request_log: RequestLog, caplog: pytest.LogCaptureFixture
) -> None:
    client.get("/boom", headers={"X-Request-ID": "trace-me"})

    [error] = [r for r in caplog.records if r.name == "convobase.error"]
    [entry] = request_log()
    assert json.loads(JsonFormatter().format(error))["request_id"] == "trace-me"
    assert entry["request_id"] == "trace-me"


def test_wrapped_around_the_whole_app_even_a_500_answer_carries_the_request_id(
    request_log: RequestLog,
) -> None:
    app = RequestLogMiddleware(build_app())

    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/boom")

    [entry] = request_log()
    assert response.status_code == 500
    assert response.headers["x-request-id"] == entry["request_id"]
    assert entry["status"] == 500


def test_tokens_and_query_strings_never_reach_the_logs(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="convobase")

    client.get(
        f"/items/{ITEM_ID}",
        params={"token": QUERY_SECRET},
        headers={"Authorization": f"Bearer {BEARER_TOKEN}"},
    )

    records = [r for r in caplog.records if r.name.startswith("convobase")]
    assert records
    for record in records:
        for line in (JsonFormatter().format(record), TextFormatter().format(record)):
            assert BEARER_TOKEN not in line
            assert QUERY_SECRET not in line
            assert ITEM_ID not in line


def test_a_failure_before_the_response_is_logged_as_500_and_re_raised(
    request_log: RequestLog,
) -> None:
    async def failing_app(scope: Scope, receive: Receive, send: Send) -> None:
        raise RuntimeError("before any response")

    with pytest.raises(RuntimeError, match="before any response"):
        run_asgi(failing_app, an_http_scope())

    [entry] = request_log()
    assert (entry["route"], entry["status"], entry["caller"]) == ("unmatched", 500, "anonymous")


def test_a_request_id_header_the_app_sets_is_replaced_not_duplicated(
    request_log: RequestLog,
) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"X-Request-ID", b"the-app's-own"), (b"content-length", b"0")]
        await send({"type": "http.response.start", "status": 204, "headers": headers})
        await send({"type": "http.response.body", "body": b""})

    start, _ = run_asgi(app, an_http_scope())

    [entry] = request_log()
    assert start["headers"] == [
        (b"content-length", b"0"),
        (b"x-request-id", entry["request_id"].encode()),
    ]


def test_lifespan_and_websocket_scopes_pass_straight_through(
    request_log: RequestLog,
) -> None:
    seen: list[Scope] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope)

    lifespan: Scope = {"type": "lifespan"}
    websocket: Scope = {"type": "websocket", "path": "/ws", "headers": []}
    run_asgi(app, lifespan)
    run_asgi(app, websocket)

    assert seen == [{"type": "lifespan"}, {"type": "websocket", "path": "/ws", "headers": []}]
    assert request_log() == []


def test_an_unexpected_error_is_logged_once_with_its_traceback_and_request_id(
    caplog: pytest.LogCaptureFixture,
) -> None:
    try:
        raise RuntimeError("nobody saw this coming")
    except RuntimeError as caught:
        error = caught

    log_unexpected_error("req-123", error)

    [record] = [r for r in caplog.records if r.name == "convobase.error"]
    assert record.levelno == logging.ERROR
    assert record.exc_info is not None
    assert record.exc_info[1] is error
    entry = json.loads(JsonFormatter().format(record))
    assert entry["request_id"] == "req-123"
    assert "nobody saw this coming" in entry["traceback"]


def test_the_json_formatter_writes_one_object_with_every_extra_field() -> None:
    record = a_record(request_id="abc", status=200, duration_ms=1.25, caller="user", note="héllo")

    line = JsonFormatter().format(record)

    assert "\n" not in line
    assert "héllo" in line  # not escaped
    entry = json.loads(line)
    assert entry == {
        "time": entry["time"],
        "level": "INFO",
        "logger": "convobase.request",
        "message": "GET /items/{item_id} 200",
        "request_id": "abc",
        "status": 200,
        "duration_ms": 1.25,
        "caller": "user",
        "note": "héllo",
    }


def test_the_json_formatter_writes_the_time_in_iso_8601_utc() -> None:
    record = a_record()

    entry = json.loads(JsonFormatter().format(record))

    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", entry["time"])
    created = datetime.fromtimestamp(record.created, UTC)
    assert datetime.fromisoformat(entry["time"]) == created.replace(
        microsecond=int(record.msecs) * 1000
    )


def test_the_json_formatter_writes_values_json_lacks_as_strings() -> None:
    line = JsonFormatter().format(a_record(elapsed=timedelta(seconds=90)))

    assert json.loads(line)["elapsed"] == "0:01:30"


def test_the_json_formatter_renders_exc_info_as_a_traceback() -> None:
    entry = json.loads(JsonFormatter().format(a_failure()))

    assert entry["level"] == "ERROR"
    assert entry["traceback"].startswith("Traceback (most recent call last):")
    assert entry["traceback"].endswith("ValueError: the failure's own words")


def test_the_text_formatter_writes_one_readable_line_with_key_values() -> None:
    record = a_record(request_id="abc", status=200, caller="user", note="two words")

    line = TextFormatter().format(record)

    assert re.fullmatch(
        r"\S+Z INFO convobase\.request GET /items/\{item_id\} 200 "
        r'request_id=abc status=200 caller=user note="two words"',
        line,
    )


def test_the_text_formatter_puts_the_traceback_on_the_following_lines() -> None:
    first, *rest = TextFormatter().format(a_failure()).splitlines()

    assert first.endswith(" ERROR convobase.error unexpected ValueError")
    assert rest[0] == "Traceback (most recent call last):"
    assert rest[-1] == "ValueError: the failure's own words"


@pytest.fixture
def root_logger() -> Iterator[logging.Logger]:
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    yield root
    for handler in list(root.handlers):
        if handler not in handlers and isinstance(handler.formatter, JsonFormatter | TextFormatter):
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level)


def test_configured_json_logging_writes_one_object_a_line_to_stderr(
    root_logger: logging.Logger, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("info", "json")

    logging.getLogger("convobase.test").info("hello %s", "there", extra={"request_id": "r-1"})
    logging.getLogger("convobase.test").debug("below the level")

    [line] = capsys.readouterr().err.splitlines()
    entry = json.loads(line)
    assert (entry["logger"], entry["message"], entry["request_id"]) == (
        "convobase.test",
        "hello there",
        "r-1",
    )


def test_configuring_logging_again_replaces_its_handler_and_keeps_the_others(
    root_logger: logging.Logger,
) -> None:
    others = list(root_logger.handlers)

    configure_logging("INFO", "json")
    configure_logging("WARNING", "text")

    added = [h for h in root_logger.handlers if h not in others]
    assert len(added) == 1
    assert isinstance(added[0].formatter, TextFormatter)
    assert all(h in root_logger.handlers for h in others)
    assert root_logger.level == logging.WARNING


def test_an_unknown_level_is_refused_and_changes_nothing(root_logger: logging.Logger) -> None:
    before = (root_logger.level, list(root_logger.handlers))

    with pytest.raises(ValueError, match="LOUD"):
        configure_logging("LOUD", "json")

    assert (root_logger.level, root_logger.handlers) == before
