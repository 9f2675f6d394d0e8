"""--format prometheus checked with the official Python client's parser; --format nfd checked
against Node Feature Discovery's documented rules for local feature files."""
import re
import subprocess

import pytest
from prometheus_client.parser import text_string_to_metric_families

import environments as envs

REPORTS = sorted(p.name for p in (envs.REPO / "matrix").glob("*.json"))


def probe_from(report, *args):
    return subprocess.run([envs.probe_binary(), "--from", str(envs.REPO / "matrix" / report), *args],
                          check=True, capture_output=True, text=True).stdout


def render(report, fmt):
    return probe_from(report, "--format", fmt)


def selected(report):
    return probe_from(report, "--select").strip()


@pytest.mark.parametrize("report", REPORTS)
def test_prometheus_text_parses_and_matches_the_selection(report):
    text = render(report, "prometheus")
    families = {f.name: f for f in text_string_to_metric_families(text)}
    assert {"namespace_probe_info", "namespace_probe_primitive_ok", "namespace_probe_backend_available",
            "namespace_probe_backend_selected", "namespace_probe_gvisor", "namespace_probe_duration_seconds"} <= set(families)
    for family in families.values():
        assert family.type == "gauge" and family.documentation
        for sample in family.samples:
            assert sample.timestamp is None, "textfile collector metrics carry no timestamp"
    chosen = [s.labels["backend"] for s in families["namespace_probe_backend_selected"].samples if s.value == 1]
    assert chosen == [selected(report)]
    for s in families["namespace_probe_primitive_ok"].samples:
        assert s.value == (1 if s.labels["verdict"] == "ok" else 0)


NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")


@pytest.mark.parametrize("report", REPORTS)
def test_nfd_feature_file_follows_the_label_rules(report):
    text = render(report, "nfd")
    assert len(text.encode()) < 64 * 1024
    features = {}
    for line in text.splitlines():
        if line.startswith("#") or not line:
            continue
        name, _, value = line.partition("=")
        assert "/" not in name, "bare names get NFD's feature.node.kubernetes.io/ prefix"
        assert len(name) <= 63 and NAME.match(name), name
        assert len(value) <= 63 and (value == "" or NAME.match(value)), value
        features[name] = value
    assert features["namespace-probe.backend"] == selected(report)
    assert features["namespace-probe.gvisor"] == ("true" if report.startswith("gvisor") else "false")
    assert {f"namespace-probe.ns-{k}" for k in ("user", "pid", "mnt", "net", "ipc", "uts", "cgroup", "time")} <= set(features)
