"""Front ends get TypeScript types that match the app, and generated clients work.

clients/typescript/ commits the app's OpenAPI document (openapi.json, written by
`convobase openapi`) and the types openapi-typescript generates from it
(src/convobase.d.ts). Here both are regenerated from the code and must equal the
committed files byte for byte, so a route or schema changed without regenerating them
fails with the command that does; then the committed sources (the friendly names in
src/index.ts, the client in src/client.ts, examples/) must type-check against them. A
Python client from openapi-python-client parses a 404 into its `Problem` model, on
both databases.

The TypeScript tools are pinned in clients/typescript/package-lock.json and installed
with `npm ci` when missing. Without npm the TypeScript test is skipped, saying why;
with CI=true that is a failure, as a missing PostgreSQL is (tests/conftest.py).
"""

import difflib
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
from typer.testing import CliRunner

from convobase import cli
from convobase.cli import server
from tests.api import Api

ROOT = Path(__file__).resolve().parents[2]
TYPESCRIPT = ROOT / "clients" / "typescript"
DOCUMENT = TYPESCRIPT / "openapi.json"
TYPES = TYPESCRIPT / "src" / "convobase.d.ts"
GENERATE_SCRIPT = "openapi-typescript openapi.json -o src/convobase.d.ts"
REGENERATE = (
    "python3 dev.py run convobase openapi clients/typescript/openapi.json"
    " && (cd clients/typescript && npm run generate)"
)
IN_CI = os.environ.get("CI", "").lower() == "true"
NPM_CI_SECONDS = 300
TOOL_SECONDS = 120
DIFF_LINES = 40
DIFF_WIDTH = 160


def _run(command: list[str], cwd: Path, timeout: float = TOOL_SECONDS) -> None:
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        pytest.fail(f"{' '.join(command)} exited {done.returncode}:\n{done.stdout}{done.stderr}")


def _require_same(fresh: Path, committed: Path) -> None:
    """Fail, saying how to regenerate, unless `committed` has `fresh`'s bytes."""
    if committed.exists() and committed.read_bytes() == fresh.read_bytes():
        return
    name = committed.relative_to(ROOT)
    if not committed.exists():
        pytest.fail(f"{name} is missing. Generate it with:\n  {REGENERATE}")
    diff = list(
        difflib.unified_diff(
            committed.read_text(encoding="utf-8").splitlines(),
            fresh.read_text(encoding="utf-8").splitlines(),
            f"{name} (committed)",
            f"{name} (from the code)",
            lineterm="",
        )
    )
    shown = "\n".join(line[:DIFF_WIDTH] for line in diff[:DIFF_LINES])
    if len(diff) > DIFF_LINES:
        shown += "\n..."
    pytest.fail(
        f"{name} is out of date with the app's code. Regenerate it and commit the result:\n"
        f"  {REGENERATE}\n{shown}"
    )


@pytest.fixture(scope="module")
def fresh_document(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The app's OpenAPI document as `convobase openapi` writes it now, in a process of
    its own; it must be byte for byte the one this process builds with another hash
    seed, or committing it would be no use."""
    path = tmp_path_factory.mktemp("openapi") / "openapi.json"
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    command = [sys.executable, "-m", "convobase", "openapi", str(path)]
    done = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=TOOL_SECONDS
    )
    assert done.returncode == 0, done.stderr
    assert path.read_text(encoding="utf-8") == server.openapi_document(), (
        "two generations of the OpenAPI document differ: it must be byte-stable"
    )
    return path


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


def test_the_committed_openapi_document_is_the_apps(fresh_document: Path) -> None:
    _require_same(fresh_document, DOCUMENT)


def test_convobase_openapi_without_a_path_writes_the_document_to_standard_output(
    fresh_document: Path,
) -> None:
    result = CliRunner().invoke(cli.app, ["openapi"])

    assert result.exit_code == 0, result.output
    assert result.stdout == fresh_document.read_text(encoding="utf-8")


def test_the_committed_document_is_the_one_served(api: Api) -> None:
    served = api.client.get("/openapi.json")

    assert served.status_code == 200
    assert served.json() == json.loads(DOCUMENT.read_text(encoding="utf-8")), (
        f"/openapi.json is not clients/typescript/openapi.json; regenerate it:\n  {REGENERATE}"
    )


def test_the_committed_typescript_types_are_fresh_and_type_check(
    typescript_tools: Path, fresh_document: Path, tmp_path: Path
) -> None:
    scripts = json.loads((TYPESCRIPT / "package.json").read_text())["scripts"]
    assert scripts["generate"] == GENERATE_SCRIPT, "the test generates the types as npm does"
    fresh_types = tmp_path / "convobase.d.ts"

    _run(
        [
            str(typescript_tools / "openapi-typescript"),
            str(fresh_document),
            "-o",
            str(fresh_types),
        ],
        TYPESCRIPT,
    )

    _require_same(fresh_types, TYPES)
    _run([str(typescript_tools / "tsc"), "--noEmit", "-p", str(TYPESCRIPT)], TYPESCRIPT)


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
