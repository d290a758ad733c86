"""Bounds on what a request may send before any route sees it: the size of its headers
and body, and how long its body may take to arrive.

A pure ASGI middleware, so that it costs little on every request: it refuses a body
whose declared length is over the limit before reading any of it, counts the bytes of
a body sent without a length as they arrive, and gives each chunk a deadline, so a
client that stops sending cannot hold a worker's memory or a connection for ever.
"""

import asyncio

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from convobase.core.errors import ConvobaseError
from convobase.core.problems import problem_response


class PayloadTooLarge(ConvobaseError):
    """The request body is larger than this service accepts."""

    status = 413
    code = "payload_too_large"


class RequestTimeout(ConvobaseError):
    """The request body did not arrive in time."""

    status = 408
    code = "request_timeout"


class RequestBoundsMiddleware:
    """Refuse over-large headers (431) and bodies (413), and slow bodies (408)."""

    def __init__(
        self, app: ASGIApp, *, max_body_bytes: int, max_header_bytes: int, body_timeout: float
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_header_bytes = max_header_bytes
        self.body_timeout = body_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers: list[tuple[bytes, bytes]] = scope["headers"]
        header_bytes = sum(len(name) + len(value) for name, value in headers)
        if header_bytes > self.max_header_bytes:
            await _refuse(
                scope,
                receive,
                send,
                431,
                "headers_too_large",
                f"The request headers are {header_bytes} bytes; the limit is "
                f"{self.max_header_bytes}.",
            )
            return
        declared = next((value for name, value in headers if name == b"content-length"), None)
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            await _refuse(
                scope,
                receive,
                send,
                413,
                PayloadTooLarge.code,
                f"The body is {int(declared)} bytes; the limit is {self.max_body_bytes}.",
            )
            return
        refusal: ConvobaseError | None = None
        received = 0
        complete = False
        started = False

        async def bounded_receive() -> Message:
            nonlocal refusal, received, complete
            if complete:  # afterwards the app only listens for a disconnect: no deadline
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), self.body_timeout)
            except TimeoutError as error:
                refusal = RequestTimeout(
                    f"No part of the body arrived for {self.body_timeout:g} seconds."
                )
                raise refusal from error
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    refusal = PayloadTooLarge(
                        f"The body is over the limit of {self.max_body_bytes} bytes."
                    )
                    raise refusal
                complete = not message.get("more_body", False)
            else:
                complete = True
            return message

        # The framework turns any error met while reading a body into an answer of its
        # own: once this middleware has refused the body, the app's answer is dropped
        # and the refusal sent instead.
        async def guarded_send(message: Message) -> None:
            nonlocal started
            if refusal is None:
                started = started or message["type"] == "http.response.start"
                await send(message)

        try:
            await self.app(scope, bounded_receive, guarded_send)
        except ConvobaseError:
            if refusal is None:
                raise
        if refusal is not None and not started:
            await _refuse(scope, receive, send, refusal.status, refusal.code, refusal.detail)


async def _refuse(
    scope: Scope, receive: Receive, send: Send, status: int, code: str, detail: str
) -> None:
    # The body is never read, so the connection cannot be kept alive for another request.
    response = problem_response(status, code, detail, headers={"Connection": "close"})
    await response(scope, receive, send)
