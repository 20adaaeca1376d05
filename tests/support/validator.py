"""Run the official BIDS validator (3.x, `bids-validator-deno` from PyPI) on a dataset.

The package ships the validator bundled with its schema and pulls in the Deno runtime as a
wheel, so the tests need neither Node nor the network. `pip install -e '.[test]'` installs it
into the venv; $BIDS_VALIDATOR may name another executable that accepts the same options.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ENV_VAR = "BIDS_VALIDATOR"
EXECUTABLE = "bids-validator-deno"
INSTALL_HINT = (
    "Install it with: .venv/bin/pip install -e '.[test]' (it is the PyPI package"
    f" bids-validator-deno), or set {ENV_VAR} to a bids-validator 3.x executable."
)


class ValidatorMissingError(AssertionError):
    """The validator cannot be found or run; an AssertionError so the calling test fails."""


@dataclass(frozen=True)
class ValidatorIssue:
    """One issue of the report: its code (e.g. NOT_INCLUDED), sub-code (e.g. the JSON key a
    warning is about), the file it concerns (dataset-relative, from /) and its message."""

    key: str
    sub_code: str
    location: str
    message: str

    def __str__(self) -> str:
        sub = f"[{self.sub_code}]" if self.sub_code else ""
        return f"{self.key}{sub} {self.location}" + (f": {self.message}" if self.message else "")


@dataclass(frozen=True)
class ValidatorReport:
    errors: tuple[ValidatorIssue, ...]
    warnings: tuple[ValidatorIssue, ...]
    schema_version: str


def find_validator() -> Path:
    """The executable named by $BIDS_VALIDATOR, else `bids-validator-deno` beside this Python
    (the venv's bin folder), else on PATH."""
    named = os.environ.get(ENV_VAR)
    candidates = (
        [Path(named)]
        if named
        else [Path(sys.executable).parent / EXECUTABLE, Path(shutil.which(EXECUTABLE) or "")]
    )
    for path in candidates:
        if path.name and path.is_file():
            return path
    raise ValidatorMissingError(f"{EXECUTABLE} not found (looked at {candidates}). {INSTALL_HINT}")


def run_validator(dataset_root: Path, *, timeout_s: float = 300.0) -> ValidatorReport:
    """Validate a dataset folder: every row of every TSV (`--max-rows -1`), JSON report."""
    command = [str(find_validator()), str(dataset_root), "--format", "json", "--max-rows", "-1"]
    try:
        done = subprocess.run(
            command,
            check=False,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            env={**os.environ, "NO_COLOR": "1"},
        )
    except OSError as exc:
        raise ValidatorMissingError(f"cannot run {command[0]}: {exc}. {INSTALL_HINT}") from exc
    try:
        report = json.loads(done.stdout)
        raw = report["issues"]["issues"]
    except (json.JSONDecodeError, KeyError, TypeError):
        raise ValidatorMissingError(
            f"{command[0]} printed no JSON report (exit {done.returncode}):"
            f" {done.stdout[-1000:]} {done.stderr[-2000:]}"
        ) from None
    return ValidatorReport(
        errors=_issues(raw, lambda severity: severity == "error"),
        warnings=_issues(raw, lambda severity: severity != "error"),
        schema_version=str(report.get("summary", {}).get("schemaVersion", "")),
    )


def _issues(raw: list[dict[str, Any]], keep: Callable[[str], bool]) -> tuple[ValidatorIssue, ...]:
    return tuple(
        ValidatorIssue(
            key=str(item["code"]),
            sub_code=str(item.get("subCode") or ""),
            location=str(item.get("location") or ""),
            message=str(item.get("issueMessage") or "").strip(),
        )
        for item in raw
        if keep(str(item.get("severity")))
    )
