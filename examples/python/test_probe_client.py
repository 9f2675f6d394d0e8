"""probe_client against the real probe binary (PROBE_BIN, or the SwiftPM debug build)."""
import json
import os
import subprocess
from pathlib import Path

import pytest

from probe_client import BACKENDS, ProbeError, SchemaError, load_report, run_probe, selection_from_report

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def probe():
    path = os.environ.get("PROBE_BIN")
    if not path:
        out = subprocess.run(["swift", "build", "--show-bin-path"], cwd=REPO, check=True, capture_output=True, text=True)
        path = str(Path(out.stdout.strip()) / "probe")
    assert os.access(path, os.X_OK), f"probe binary missing at {path}: run swift build first"
    return path


def test_live_run_returns_a_typed_selection(probe):
    s = run_probe(probe)
    assert s.backend in BACKENDS
    assert s.parameters["ISOLATION_BACKEND"] == s.backend
    assert [c.backend for c in s.candidates] == list(BACKENDS)
    assert {h.name for h in s.hardening} == {"per-tenant uid", "no_new_privs", "seccomp filter", "landlock"}


def test_saved_report_from_gvisor(probe, tmp_path):
    # The file a container entrypoint writes, here from a recorded gVisor run.
    out = tmp_path / "isolation.json"
    subprocess.run([probe, "--from", str(REPO / "matrix" / "gvisor-20221219-root.json"), "--json", "--output", str(out)], check=True)
    s = load_report(str(out))
    assert s.backend == "uid" and s.gvisor == "yes"
    assert s.advice and "sandbox" in s.advice
    assert s.at_least("directories") and not s.at_least("landlock")
    namespaces = next(c for c in s.candidates if c.backend == "namespaces")
    assert not namespaces.available and namespaces.shortfalls[0].errno == "EINVAL"


def test_newer_schema_is_a_clear_error(tmp_path):
    report = json.loads((REPO / "matrix" / "host-root.json").read_text())
    report["schema"] = 2
    path = tmp_path / "future.json"
    path.write_text(json.dumps(report))
    with pytest.raises(SchemaError, match="schema 2 is not supported"):
        load_report(str(path))


def test_report_without_selection_is_refused():
    report = json.loads((REPO / "matrix" / "host-root.json").read_text())
    report.pop("selection")
    with pytest.raises(SchemaError, match="selection"):
        selection_from_report(report)


def test_probe_exiting_non_zero_raises_with_its_message(probe):
    with pytest.raises(ProbeError) as err:
        run_probe(probe, ["--from", str(REPO / "matrix" / "gvisor-20221219-root.json"), "--require", "namespaces"])
    assert err.value.returncode == 3
    assert "required namespaces" in str(err.value)
    with pytest.raises(ProbeError) as usage:
        run_probe(probe, ["--require", "vm"])
    assert usage.value.returncode == 2 and "unknown backend 'vm'" in str(usage.value)


def test_missing_binary_is_an_error_not_a_default():
    with pytest.raises(ProbeError, match="not found"):
        run_probe("/nonexistent/probe")
