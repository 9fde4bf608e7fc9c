#!/usr/bin/env python3
"""Bootstrap and run crm-migrate on a fresh machine that has only Python 3.11+.

    python3 dev.py demo     # create .venv if needed, install, run the demo migration
    python3 dev.py test     # same environment, run the test suite
    python3 dev.py shell    # print how to activate the environment

The environment is reinstalled only when pyproject.toml changes.
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
STAMP = VENV / ".crm-migrate-installed"


def _run(*cmd: str | Path) -> int:
    return subprocess.call([str(c) for c in cmd], cwd=ROOT)


def ensure_env() -> None:
    if sys.version_info < (3, 11):
        sys.exit(f"crm-migrate needs Python 3.11 or newer; this is {sys.version.split()[0]}.")
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if STAMP.exists() and STAMP.read_text() == digest:
        return
    if not (BIN / "python").exists() and not (BIN / "python.exe").exists():
        print("Creating virtual environment in .venv ...", flush=True)
        venv.create(VENV, with_pip=True)
    print("Installing crm-migrate and its dependencies (first run only) ...", flush=True)
    pip = [BIN / "python", "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    if _run(*pip, "-e", ".[dev]") != 0:
        sys.exit("Installing dependencies failed; see the pip output above.")
    STAMP.write_text(digest)


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"demo", "test", "shell"}:
        print(__doc__)
        return 2
    ensure_env()
    command, rest = argv[0], argv[1:]
    if command == "demo":
        return _run(BIN / "crm-migrate", "demo", *rest)
    if command == "test":
        return _run(BIN / "python", "-m", "pytest", *rest)
    print(f"source {BIN / 'activate'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
