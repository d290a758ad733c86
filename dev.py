#!/usr/bin/env python3
"""Set up convobase's environment and run it: needs only Python 3.11+.

    python3 dev.py serve        migrate the database and start the service
    python3 dev.py test         lint, type-check and run the whole test suite
    python3 dev.py bench        run the benchmarks (see docs/performance.md)
    python3 dev.py run ARGS...  run any command inside the environment

The first run creates .venv/, installs the pinned uv into it and syncs the locked
dependencies from uv.lock; later runs only check that the environment is current.
"""

import os
import subprocess
import sys
import venv
from pathlib import Path

UV_VERSION = "0.13.9"
ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")

CHECKS = [
    ["ruff", "check", "."],
    ["ruff", "format", "--check", "."],
    ["mypy"],
    ["lint-imports"],
]


def main(argv: list[str]) -> int:
    # This script runs under whatever python3 the newcomer has, before any check.
    if sys.version_info < (3, 11):  # noqa: UP036
        sys.exit("convobase needs Python 3.11 or newer")
    command, *rest = argv or ["--help"]
    if command in ("-h", "--help", "help"):
        print(__doc__)
        return 0
    ensure_environment()
    if command == "serve":
        return run(["convobase", "serve", *rest])
    if command == "test":
        for check in CHECKS:
            if code := run(check):
                return code
        # One test process per core: each builds databases of its own (docs/architecture.md).
        return run(["pytest", "-n", "auto", "--dist", "worksteal", *rest])
    if command == "bench":
        return run(["python", "-m", "bench", *rest])
    if command == "run":
        return run(rest)
    sys.exit(f"unknown command {command!r}; see: python3 dev.py --help")


def ensure_environment() -> None:
    python = BIN / ("python.exe" if os.name == "nt" else "python")
    if not python.exists():
        print("Creating .venv ...", file=sys.stderr)
        venv.create(VENV, with_pip=True)
    uv = BIN / ("uv.exe" if os.name == "nt" else "uv")
    if not uv.exists() or _version(uv) != UV_VERSION:
        print(f"Installing uv {UV_VERSION} into .venv ...", file=sys.stderr)
        subprocess.run(
            [
                str(python),
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                f"uv=={UV_VERSION}",
            ],
            check=True,
        )
    subprocess.run([str(uv), "sync", "--locked", "--quiet"], check=True, cwd=ROOT, env=_env())


def run(command: list[str]) -> int:
    print(f"$ {' '.join(command)}", file=sys.stderr, flush=True)
    return subprocess.run(command, cwd=ROOT, env=_env()).returncode


def _version(uv: Path) -> str:
    output = subprocess.run([str(uv), "--version"], capture_output=True, text=True).stdout
    return output.split()[1] if output else ""


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["VIRTUAL_ENV"] = str(VENV)
    env["UV_PROJECT_ENVIRONMENT"] = str(VENV)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env.pop("PYTHONHOME", None)
    return env


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
