"""Structured logs for the HTTP service: one line per request, one per unexpected error.

`configure_logging` points the root logger at stderr, as JSON lines or as readable text.
`RequestLogMiddleware` gives every HTTP request an id, echoes it as `X-Request-ID` and,
once the request is answered, logs one line on `convobase.request`: method, route
template, status, duration and kind of caller, never the raw path, query string,
headers or body. `log_unexpected_error` logs, on `convobase.error`, an error that no
handler expected, with its traceback.

Structured fields travel as `extra=` on the record: both formatters write every one.
"""

import json
import logging
import re
import sys
import time
import uuid
from collections.abc import Iterable, Sequence
from typing import Any, Final, Literal, TextIO, assert_never

from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_ID_HEADER: Final = "x-request-id"

_request_log: Final = logging.getLogger("convobase.request")
_error_log: Final = logging.getLogger("convobase.error")

# Every attribute a bare record has; whatever else a record carries came from `extra=`,
# except uvicorn's ANSI-coloured copy of its message.
_NOT_EXTRA: Final = frozenset(vars(logging.makeLogRecord({}))) | {
    "message",
    "asctime",
    "color_message",
}
_REQUEST_ID_HEADER_BYTES: Final = REQUEST_ID_HEADER.encode("ascii")
_VALID_REQUEST_ID: Final = re.compile(rb"[\x21-\x7e]{1,128}")  # printable ASCII, no spaces
_BARE_TEXT_VALUE: Final = re.compile(r'[^\s"=]+')


def configure_logging(level: str, fmt: Literal["json", "text"]) -> None:
    """Send records at `level` and above to stderr as `fmt`, replacing an earlier call's."""
    formatter: logging.Formatter
    match fmt:
        case "json":
            formatter = JsonFormatter()
        case "text":
            formatter = TextFormatter()
        case _:
            assert_never(fmt)
    root = logging.getLogger()
    root.setLevel(level.upper())  # first: an unknown level raises before anything changes
    for earlier in [handler for handler in root.handlers if isinstance(handler, _Handler)]:
        root.removeHandler(earlier)
        earlier.close()
    handler = _Handler(sys.stderr)
    handler.setFormatter(formatter)
    root.addHandler(handler)


def log_unexpected_error(request_id: str | None, error: BaseException) -> None:
    """Log `error`, which no handler expected, once with its traceback and request id."""
    _error_log.error(
        "unexpected %s", type(error).__qualname__, exc_info=error, extra={"request_id": request_id}
    )


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, the extra fields, traceback."""

    def format(self, record: logging.LogRecord) -> str:
        """Render `record` as a single line of JSON."""
        entry: dict[str, object] = {
            "time": _timestamp(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in _extra_fields(record):
            entry.setdefault(key, value)  # an extra field never hides one of the above
        if trace := _traceback(self, record):
            entry["traceback"] = trace
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """`time level logger message key=value ...` on one line, any traceback below it."""

    def format(self, record: logging.LogRecord) -> str:
        """Render `record` as a readable line, followed by its traceback if it has one."""
        parts = [_timestamp(record), record.levelname, record.name, record.getMessage()]
        parts.extend(f"{key}={_text_value(value)}" for key, value in _extra_fields(record))
        line = " ".join(parts)
        if trace := _traceback(self, record):
            return f"{line}\n{trace}"
        return line


class RequestLogMiddleware:
    """Pure ASGI middleware: give each HTTP request an id and log one line once answered."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the request through the app, echoing its id and logging its outcome."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        started = time.perf_counter()
        request_id = _incoming_request_id(scope.get("headers", ()))
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        echoed = (_REQUEST_ID_HEADER_BYTES, request_id.encode("ascii"))
        status = 500  # what the request counts as if the app fails before answering

        async def send_with_request_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*_without_request_id(message.get("headers", ())), echoed]
            await send(message)

        try:
            await self.app(scope, receive, send_with_request_id)
        finally:
            duration_ms = round((time.perf_counter() - started) * 1000, 2)
            route = getattr(scope.get("route"), "path", None)
            template = route if isinstance(route, str) else "unmatched"
            method = scope["method"]
            _request_log.info(
                "%s %s %s",
                method,
                template,
                status,
                extra={
                    "request_id": request_id,
                    "method": method,
                    "route": template,
                    "status": status,
                    "duration_ms": duration_ms,
                    "caller": state.get("caller_kind", "anonymous"),
                },
            )


class _Handler(logging.StreamHandler[TextIO]):
    """The handler `configure_logging` installs, so that a later call can replace it."""


def _incoming_request_id(headers: Iterable[tuple[bytes, bytes]]) -> str:
    for name, value in headers:
        if name == _REQUEST_ID_HEADER_BYTES:
            if _VALID_REQUEST_ID.fullmatch(value):
                return value.decode("ascii")
            break
    return uuid.uuid4().hex


def _without_request_id(headers: Iterable[Sequence[bytes]]) -> list[Sequence[bytes]]:
    return [header for header in headers if header[0].lower() != _REQUEST_ID_HEADER_BYTES]


def _timestamp(record: logging.LogRecord) -> str:
    seconds = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
    return f"{seconds}.{int(record.msecs):03d}Z"


def _extra_fields(record: logging.LogRecord) -> list[tuple[str, Any]]:
    return [(key, value) for key, value in vars(record).items() if key not in _NOT_EXTRA]


def _traceback(formatter: logging.Formatter, record: logging.LogRecord) -> str:
    if record.exc_info and record.exc_info[0] is not None and not record.exc_text:
        record.exc_text = formatter.formatException(record.exc_info)  # cached, as logging does
    parts = [text for text in (record.exc_text, record.stack_info) if text]
    return "\n".join(parts)


def _text_value(value: object) -> str:
    text = str(value)
    if _BARE_TEXT_VALUE.fullmatch(text):
        return text
    return json.dumps(text, ensure_ascii=False)
