"""A webhook receiver on 127.0.0.1 that checks signatures as docs/analyzers.md and
docs/safety.md tell receivers to: what convobase's webhooks are tested against."""

import hashlib
import hmac
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from convobase.core.webhooks import SIGNATURE_HEADER

SECRET = "a-webhook-secret-for-tests-that-is-long-enough"
SIGNATURE_TOLERANCE_SECONDS = 300


def signature_is_valid(header: str, body: bytes, secret: str = SECRET) -> bool:
    """What a receiver does (docs/analyzers.md): recompute the HMAC, refuse old timestamps."""
    try:
        fields = dict(field.split("=", 1) for field in header.split(","))
        timestamp = int(fields["t"])
    except (KeyError, ValueError):
        return False
    signed = f"{timestamp}.".encode() + body
    expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    fresh = abs(time.time() - timestamp) <= SIGNATURE_TOLERANCE_SECONDS
    return fresh and hmac.compare_digest(expected, fields.get("v1", ""))


@contextmanager
def webhook_server(
    status: int = 200,
    answer: bytes | None = b'{"chat_score": 7}',
    *,
    secret: str = SECRET,
) -> Iterator[tuple[str, list[bytes]]]:
    """A receiver on 127.0.0.1 that checks the signature, then answers `status` and
    `answer`; `answer=None` never answers. Yields its URL and the bodies it accepted."""
    accepted: list[bytes] = []
    test_over = threading.Event()

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if not signature_is_valid(self.headers.get(SIGNATURE_HEADER, ""), body, secret):
                self._reply(401, b'{"error": "bad signature"}')
                return
            accepted.append(body)
            if answer is None:
                test_over.wait(timeout=30)
                return
            self._reply(status, answer)

        def _reply(self, status: int, payload: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    # Joined on close, so that no handler outlives the test.
    server.daemon_threads = False
    serving = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    serving.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/hook", accepted
    finally:
        test_over.set()
        server.shutdown()
        server.server_close()
        serving.join()
