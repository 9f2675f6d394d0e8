"""Read namespace-probe's decision from a Python server.

    from probe_client import run_probe, load_report

    selection = run_probe()                     # runs `probe --json`
    selection = load_report("/run/isolation.json")  # or reads the file written at start
    if selection.backend == "namespaces": ...
    launcher_env = selection.parameters         # ISOLATION_* values for the launcher

Errors are exceptions carrying the probe's own message; nothing here ever falls back to a
weaker backend on its own. Standard library only.
"""
from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple

SUPPORTED_SCHEMA = 1
BACKENDS = ("namespaces", "namespaces-shared-proc", "landlock", "uid", "directories")  # strongest first


class ProbeError(RuntimeError):
    """The probe could not run, or exited non-zero (its message is in `stderr`)."""

    def __init__(self, message: str, returncode: Optional[int] = None, stderr: str = ""):
        super().__init__(message)
        self.returncode = returncode
        self.stderr = stderr


class SchemaError(ValueError):
    """The report is not one this module understands (another schema, or malformed)."""


@dataclass(frozen=True)
class Shortfall:
    requirement: str
    probe: str
    step: Optional[str]
    errno: Optional[str]
    cause: Optional[str]


@dataclass(frozen=True)
class Candidate:
    backend: str
    available: bool
    excluded: bool
    shortfalls: Tuple[Shortfall, ...]


@dataclass(frozen=True)
class Hardening:
    name: str
    available: bool
    evidence: str


@dataclass(frozen=True)
class Selection:
    backend: str
    reason: str
    protects: str
    does_not_protect: str
    warning: Optional[str]
    advice: Optional[str]
    parameters: Mapping[str, str]
    candidates: Tuple[Candidate, ...]
    hardening: Tuple[Hardening, ...]
    gvisor: str

    def at_least(self, minimum: str) -> bool:
        """True when the selected backend is as strong as `minimum` or stronger."""
        if minimum not in BACKENDS:
            raise ValueError(f"unknown backend {minimum!r}; known: {', '.join(BACKENDS)}")
        return BACKENDS.index(self.backend) <= BACKENDS.index(minimum)


def _field(obj: Mapping[str, Any], key: str, kind: type, where: str) -> Any:
    if key not in obj or not isinstance(obj[key], kind):
        raise SchemaError(f"report field {where}.{key} is missing or not a {kind.__name__}")
    return obj[key]


def selection_from_report(report: Mapping[str, Any]) -> Selection:
    """Validates the schema version and turns the report's `selection` into a Selection."""
    if not isinstance(report, Mapping):
        raise SchemaError("the report is not a JSON object")
    schema = report.get("schema")
    if schema != SUPPORTED_SCHEMA:
        raise SchemaError(f"report schema {schema!r} is not supported (this module reads schema {SUPPORTED_SCHEMA}); "
                          "upgrade probe_client.py together with the probe")
    sel = _field(report, "selection", dict, "report")
    backend = _field(sel, "backend", str, "selection")
    if backend not in BACKENDS:
        raise SchemaError(f"unknown backend {backend!r} in the report")
    gvisor = next((r.get("confidence", "no") for r in report.get("runtimes", []) if r.get("name") == "gvisor"), "no")
    return Selection(
        backend=backend,
        reason=_field(sel, "reason", str, "selection"),
        protects=_field(sel, "protects", str, "selection"),
        does_not_protect=_field(sel, "does_not_protect", str, "selection"),
        warning=sel.get("warning"),
        advice=sel.get("advice"),
        parameters=dict(_field(sel, "parameters", dict, "selection")),
        candidates=tuple(
            Candidate(c["backend"], bool(c["available"]), bool(c["excluded"]),
                      tuple(Shortfall(f["requirement"], f["probe"], f.get("step"), f.get("errno"), f.get("cause"))
                            for f in c.get("shortfalls", [])))
            for c in _field(sel, "candidates", list, "selection")),
        hardening=tuple(Hardening(h["name"], bool(h["available"]), h["evidence"])
                        for h in _field(sel, "hardening", list, "selection")),
        gvisor=gvisor,
    )


def load_report(path: str) -> Selection:
    """Reads a report written at container start (`probe --json --output PATH`)."""
    try:
        with open(path, encoding="utf-8") as f:
            report = json.load(f)
    except OSError as e:
        raise ProbeError(f"cannot read the probe report {path}: {e.strerror}") from e
    except json.JSONDecodeError as e:
        raise SchemaError(f"{path} is not valid JSON: {e}") from e
    return selection_from_report(report)


def run_probe(probe: str = "probe", args: Sequence[str] = (), timeout: float = 30.0) -> Selection:
    """Runs `probe --json ARGS...` and returns its selection."""
    cmd = [probe, "--json", *args]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except FileNotFoundError as e:
        raise ProbeError(f"cannot run {probe}: not found (install the probe binary or pass its path)") from e
    except subprocess.TimeoutExpired as e:
        raise ProbeError(f"{probe} did not finish within {timeout} s") from e
    if done.returncode != 0:
        message = done.stderr.strip() or f"{probe} exited with status {done.returncode}"
        raise ProbeError(message, returncode=done.returncode, stderr=done.stderr)
    try:
        report = json.loads(done.stdout)
    except json.JSONDecodeError as e:
        raise SchemaError(f"{probe} printed invalid JSON: {e}") from e
    return selection_from_report(report)

