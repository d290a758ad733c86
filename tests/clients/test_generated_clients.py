"""Clients generated from the running app's OpenAPI document work: TypeScript types
from openapi-typescript type-check a small client that handles problem+json errors
(clients/typescript/), and a Python client from openapi-python-client parses a 404
into its `Problem` model, on both databases.

The TypeScript tools are pinned in clients/typescript/package-lock.json and installed
with `npm ci` when missing. Without npm the TypeScript test is skipped, saying why;
with CI=true that is a failure, as a missing PostgreSQL is (tests/conftest.py).
"""

import importlib
import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.api import Api
from tests.servers import running_server

ROOT = Path(__file__).resolve().parents[2]
TYPESCRIPT = ROOT / "clients" / "typescript"
IN_CI = os.environ.get("CI", "").lower() == "true"
NPM_CI_SECONDS = 300
TOOL_SECONDS = 120


def _run(command: list[str], cwd: Path, timeout: float = TOOL_SECONDS) -> None:
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        pytest.fail(f"{' '.join(command)} exited {done.returncode}:\n{done.stdout}{done.stderr}")


@pytest.fixture(scope="session")
def typescript_tools() -> Path:
    """clients/typescript with its pinned tools installed (`npm ci` when missing or
    older than the lock file); their directory of executables."""
    npm = shutil.which("npm")
    if npm is None:
        reason = "npm is not installed, so the generated TypeScript client is not checked"
        if IN_CI:
            pytest.fail(f"CI=true and npm is required: {reason}")
        pytest.skip(reason)
    installed = TYPESCRIPT / "node_modules" / ".package-lock.json"
    lock = TYPESCRIPT / "package-lock.json"
    if not installed.exists() or installed.stat().st_mtime < lock.stat().st_mtime:
        _run([npm, "ci", "--no-audit", "--no-fund"], TYPESCRIPT, timeout=NPM_CI_SECONDS)
    return TYPESCRIPT / "node_modules" / ".bin"


def test_typescript_types_from_the_served_document_type_check_a_client(
    typescript_tools: Path, tmp_path: Path
) -> None:
    project = tmp_path / "client"
    shutil.copytree(TYPESCRIPT / "src", project / "src")
    shutil.copy(TYPESCRIPT / "tsconfig.json", project)
    (project / "src" / "convobase.d.ts").unlink(missing_ok=True)

    with running_server(tmp_path) as (base, _, _):
        _run(
            [
                str(typescript_tools / "openapi-typescript"),
                f"{base}/openapi.json",
                "-o",
                str(project / "src" / "convobase.d.ts"),
            ],
            project,
        )

    _run([str(typescript_tools / "tsc"), "--noEmit", "-p", str(project)], project)


@pytest.fixture
def generated_python_client(
    api: Api, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[ModuleType]:
    """A Python client generated from the app's document, imported as a package."""
    document = tmp_path / "openapi.json"
    document.write_text(json.dumps(api.client.get("/openapi.json").json()))
    config = tmp_path / "config.yaml"
    config.write_text("post_hooks: []\n")
    package = f"convobase_client_{uuid.uuid4().hex[:8]}"
    generator = Path(sys.executable).parent / "openapi-python-client"
    _run(
        [
            str(generator),
            "generate",
            "--path",
            str(document),
            "--output-path",
            str(tmp_path / package),
            "--meta",
            "none",
            "--config",
            str(config),
        ],
        tmp_path,
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield importlib.import_module(package)
    for name in [name for name in sys.modules if name.split(".")[0] == package]:
        del sys.modules[name]


def _module(package: ModuleType, name: str) -> Any:
    return importlib.import_module(f"{package.__name__}.{name}")


def test_a_generated_python_client_parses_a_404_into_its_problem_model(
    generated_python_client: ModuleType, api: Api
) -> None:
    client = _module(generated_python_client, "client").Client(
        base_url=str(api.client.base_url), raise_on_unexpected_status=True
    )
    client.set_httpx_client(api.client)
    read_persona = _module(generated_python_client, "api.personas.read_persona")
    problem_model = _module(generated_python_client, "models").Problem
    persona_model = _module(generated_python_client, "models").PersonaRead
    persona = api.persona(skill_level="expert")

    missing = read_persona.sync_detailed(client=client, persona_id=uuid.uuid4())
    found = read_persona.sync(client=client, persona_id=uuid.UUID(persona["id"]))

    assert missing.status_code == 404
    assert isinstance(missing.parsed, problem_model)
    assert (missing.parsed.status, missing.parsed.code) == (404, "not_found")
    assert missing.parsed.type_ == "https://convobase.dev/problems/not_found"
    assert isinstance(found, persona_model)
    assert found.skill_level.value == "expert"
