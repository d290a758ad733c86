"""The real `convobase serve` process on a free port of 127.0.0.1, for tests that go
over a socket as an app would."""

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

STARTUP_SECONDS = 60


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def running_server(
    workdir: Path, settings: Mapping[str, str] | None = None, *, workers: int = 1
) -> Iterator[tuple[str, dict[str, str], Path]]:
    """Serve with CONVOBASE_* `settings` (named without the prefix, lower case; a new
    SQLite database in `workdir` unless `database_url` is given); yields the base URL,
    the environment and the log."""
    port = free_port()
    env = {
        **os.environ,
        "CONVOBASE_DATABASE_URL": f"sqlite:///{workdir / 'e2e.db'}",
        **{f"CONVOBASE_{name.upper()}": value for name, value in (settings or {}).items()},
    }
    if "jwt_secret" not in (settings or {}):
        env.pop("CONVOBASE_JWT_SECRET", None)
    log = workdir / "serve.log"
    command = [sys.executable, "-m", "convobase", "serve", "--port", str(port)]
    with log.open("w") as output:
        process = subprocess.Popen(
            [*command, "--workers", str(workers)],
            cwd=workdir,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_ready(base, process, log)
        yield base, env, log
    finally:
        process.terminate()
        process.wait(timeout=20)


def _wait_until_ready(base: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"convobase serve exited early:\n{log.read_text()}")
        try:
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    pytest.fail(f"convobase serve was not ready within {STARTUP_SECONDS}s:\n{log.read_text()}")
