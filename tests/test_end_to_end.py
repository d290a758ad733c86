"""The real `convobase serve` process, driven over a socket like an app would."""

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

STARTUP_SECONDS = 60


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, dict[str, str], Path]]:
    port = free_port()
    env = {
        **os.environ,
        "CONVOBASE_DATABASE_URL": f"sqlite:///{tmp_path / 'e2e.db'}",
        "CONVOBASE_GUEST_MESSAGE_LIMIT": "3",
    }
    env.pop("CONVOBASE_JWT_SECRET", None)
    log = tmp_path / "serve.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "convobase", "serve", "--port", str(port)],
            cwd=tmp_path,
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


def test_guest_chats_to_the_limit_signs_up_and_keeps_the_conversation(
    server: tuple[str, dict[str, str], Path],
) -> None:
    base, env, log = server
    user_token = subprocess.run(
        [sys.executable, "-m", "convobase", "token", "--sub", str(uuid.uuid4())],
        env=env,
        cwd=log.parent,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()

    with httpx.Client(base_url=base, timeout=10) as client:
        personas = client.get("/v1/personas").json()["items"]
        maria = next(persona for persona in personas if persona["display_name"] == "María")
        guest = client.post("/v1/guest-sessions", json={"persona_id": maria["id"]}).json()
        as_guest = {"Authorization": f"Bearer {guest['token']}"}
        messages = f"/v1/conversations/{guest['conversation_id']}/messages"
        sent = [
            client.post(messages, json={"role": "user", "content": f"Hola {n}"}, headers=as_guest)
            for n in range(4)
        ]
        as_user = {"Authorization": f"Bearer {user_token}"}
        claimed = client.post(
            "/v1/guest-sessions/claim", json={"guest_token": guest["token"]}, headers=as_user
        )
        mine = client.get("/v1/conversations", headers=as_user).json()["items"]
        history = client.get(messages, headers=as_user).json()["items"]

    assert "API docs:" in log.read_text()
    assert [response.status_code for response in sent] == [201, 201, 201, 403]
    assert sent[-1].json()["code"] == "guest_limit_reached"
    assert claimed.status_code == 200
    assert [conversation["id"] for conversation in mine] == [guest["conversation_id"]]
    assert [message["content"] for message in history] == ["Hola 0", "Hola 1", "Hola 2"]
