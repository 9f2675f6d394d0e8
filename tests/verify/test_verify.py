"""`probe verify` for real: tenant B attacks tenant A through `probe launch` in every
environment of the suite, and every protection the catalogue promises must hold.

Also proves the self-test can fail: a launcher whose uid switch is sabotaged from outside
(an LD_PRELOAD built here, in the test, never shipped) claims a per-tenant uid it did not
apply; verify must report the attacks that then leak and exit 4.
"""
import json
import os
import subprocess
import tempfile
from pathlib import Path

import jsonschema
import pytest

import environments as envs

SCHEMA = json.loads((envs.REPO / "docs" / "verify-schema.json").read_text())
FAMILIES = {"files", "IPC", "processes", "network", "privilege", "launcher duties", "resources"}


def leftovers():
    """What a verify run could leave on this host besides the suite's usual state."""
    state = envs.host_state()
    state["npv files"] = sorted(str(p) for base in ("/tmp", "/dev/shm") for p in Path(base).glob("npv-*"))
    ipcs = subprocess.run(["ipcs", "-m"], capture_output=True, text=True).stdout.split()
    state["npv SysV segments"] = sorted(w for w in ipcs if w.startswith("0x4e"))
    ps = subprocess.run(["ps", "-eo", "comm="], capture_output=True, text=True).stdout.split()
    state["npv processes"] = sorted(c for c in ps if c.startswith("npv-"))
    return state


def assert_nothing_left(before, after, what):
    for key in before:
        assert before[key] == after[key], f"[{what}] {key} changed:\nbefore={before[key]}\nafter={after[key]}"


def verify_json(proc, what):
    try:
        doc = json.loads(proc.stdout)
    except json.JSONDecodeError:
        raise AssertionError(f"[{what}] no JSON (exit {proc.returncode}): {proc.stdout[:500]} {proc.stderr[-2000:]}")
    jsonschema.validate(doc, SCHEMA)
    assert doc["exit_status"] == proc.returncode, (doc["exit_status"], proc.returncode)
    return doc


@pytest.fixture(scope="module")
def verified():
    cache = {}

    def get(env):
        if env not in cache:
            before = leftovers()
            proc = envs.run_in(env, [envs.probe_binary(), "verify", "--all", "--json"], timeout=120)
            after = leftovers()
            report = envs.probe_report(env)
            cache[env] = (proc, report, before, after)
        return cache[env]
    return get


@pytest.mark.parametrize("env", list(envs.ENVIRONMENTS))
def test_every_promised_protection_holds(env, verified):
    proc, report, _, _ = verified(env)
    available = [c["backend"] for c in report["selection"]["candidates"] if c["available"]]
    if not available:
        # Root without a uid switch: every tenant would be uid 0, so nothing can be launched
        # or verified; verify says so and exits 125.
        assert proc.returncode == 125 and "no backend can launch a tenant here" in proc.stderr, proc.stderr
        return
    doc = verify_json(proc, env)
    assert [r["backend"] for r in doc["runs"]] == available, "--all runs every available backend"
    problems = []
    for run in doc["runs"]:
        if run["outcome"] == "refused":
            # probe launch never runs a tenant that way here (e.g. as uid 0): nothing to attack.
            assert run["error"]["cause"] and not run["attacks"], run
            print(f"[{env}] {run['backend']}: refused by probe launch: {run['error']['cause']}")
            continue
        if run["error"]:
            problems.append(f"{run['backend']}: could not run: {run['error']}")
            continue
        attacks = run["attacks"]
        assert len(attacks) >= 25 and {a["family"] for a in attacks} == FAMILIES, run["backend"]
        for a in attacks:
            if a["promise"] == "blocks" and a["observed"] == "LEAKED":
                problems.append(f"{run['backend']} {a['id']} ({a['tries']}): promised blocked ({a['reason']}), LEAKED: {a['evidence']}")
        assert sorted(run["failed_promises"]) == sorted(a["id"] for a in attacks if a["promise"] == "blocks" and a["observed"] == "LEAKED")
    assert not problems, f"[{env}] exit {proc.returncode}:\n" + "\n".join(problems) + "\n" + proc.stderr[-1500:]
    verified_runs = [r for r in doc["runs"] if r["outcome"] != "refused"]
    assert verified_runs, f"[{env}] nothing could be verified"
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("env", list(envs.ENVIRONMENTS))
def test_nothing_left_behind(env, verified):
    _, _, before, after = verified(env)
    assert_nothing_left(before, after, env)


def test_directories_is_an_honest_leak_table(verified):
    """Where the backend promises nothing, the attacks really leak, and that is no failure."""
    # Not as root: probe launch refuses to run a tenant as uid 0.
    proc, _, _, _ = verified("host-unprivileged")
    run = next(r for r in verify_json(proc, "host-unprivileged")["runs"] if r["backend"] == "directories")
    leaked = {a["id"] for a in run["attacks"] if a["observed"] == "LEAKED"}
    # The seed's scenario: B reads A's secret and finds A's git repository.
    expected = {"A01", "A01.git", "A02", "A02.root", "A14", "A20", "A22", "A23"}
    assert expected <= leaked, [(a["id"], a["observed"], a["evidence"]) for a in run["attacks"] if a["id"] in expected - leaked]
    assert all(a["promise"] == "open" for a in run["attacks"] if a["id"] in leaked)
    assert run["outcome"] == "held"


def test_selection_promises_are_the_ones_verify_checks(verified):
    """`probe --json` selection.promises (what `protects` is made of) equals verify's
    promise column for the chosen backend as launched: words and test cannot drift."""
    for env in ("host-root", "host-unprivileged", "seccomp-unshare-eperm"):
        proc, report, _, _ = verified(env)
        sel = report["selection"]
        run = next(r for r in verify_json(proc, env)["runs"] if r["backend"] == sel["backend"])
        said = {p["id"]: p["promise"] for p in sel["promises"]}
        checked = {a["id"]: a["promise"] for a in run["attacks"]}
        assert said == checked, f"[{env}] selection and verify disagree: " + str({k: (said.get(k), checked.get(k)) for k in said.keys() | checked.keys() if said.get(k) != checked.get(k)})
        for a in run["attacks"]:
            if a["promise"] == "open":
                assert a["id"] in sel["does_not_protect"], (env, a["id"], sel["does_not_protect"])


SABOTAGE = r"""
/* Test-only sabotage of the launcher, from outside the binary: setresuid, setresgid and
   setgroups do nothing and report success, getresuid/getuid/geteuid report the uid asked
   for. The launcher then believes it applied a per-tenant uid. */
#define _GNU_SOURCE
#include <sys/types.h>
#include <unistd.h>
#include <grp.h>
#include <sys/syscall.h>
static uid_t faked = (uid_t)-1;
int setresuid(uid_t r, uid_t e, uid_t s) { (void)r; (void)s; faked = e; return 0; }
int setresgid(gid_t r, gid_t e, gid_t s) { (void)r; (void)e; (void)s; return 0; }
int setgroups(size_t n, const gid_t *l) { (void)n; (void)l; return 0; }
int getresuid(uid_t *r, uid_t *e, uid_t *s) {
    if (faked == (uid_t)-1) return (int)syscall(SYS_getresuid, r, e, s);
    *r = *e = *s = faked; return 0;
}
uid_t getuid(void) { return faked == (uid_t)-1 ? (uid_t)syscall(SYS_getuid) : faked; }
uid_t geteuid(void) { return faked == (uid_t)-1 ? (uid_t)syscall(SYS_geteuid) : faked; }
"""


def test_a_launcher_that_skips_the_uid_switch_is_caught(tmp_path):
    """The issue's "hook that skips the uid switch": built here as an LD_PRELOAD the launcher
    inherits (the tenants do not: the launcher rebuilds their environment). The report comes
    from an honest probe run first, so only the launches are sabotaged."""
    if os.geteuid() != 0:
        pytest.skip("the uid backend needs root")
    lib = tmp_path / "skip_uid_switch.so"
    (tmp_path / "s.c").write_text(SABOTAGE)
    subprocess.run(["cc", "-shared", "-fPIC", "-o", str(lib), str(tmp_path / "s.c")], check=True)
    report = tmp_path / "report.json"
    report.write_text(subprocess.run([envs.probe_binary(), "--json"], check=True, capture_output=True, text=True).stdout)
    honest = subprocess.run([envs.probe_binary(), "verify", "--backend", "uid", "--from", str(report), "--json"],
                            capture_output=True, text=True, timeout=60)
    assert honest.returncode == 0, honest.stderr
    before = leftovers()
    broken = subprocess.run([envs.probe_binary(), "verify", "--backend", "uid", "--from", str(report), "--json"],
                            capture_output=True, text=True, timeout=60, env={**os.environ, "LD_PRELOAD": str(lib)})
    assert_nothing_left(before, leftovers(), "sabotaged run")
    doc = verify_json(broken, "sabotaged uid")
    assert broken.returncode == 4, broken.stderr
    run = doc["runs"][0]
    assert run["layers"]["per_tenant_uid"], "the launcher claims the uid it did not apply"
    failed = set(run["failed_promises"])
    # B runs as root without capabilities: the uid-only promises break (root is exempt from
    # RLIMIT_NPROC; A's 0600 SysV segment has B's uid; kill(-1) is refused as unconfined).
    assert {"A32", "A17.all"} <= failed, run["failed_promises"]
    assert "promised protection failed" in broken.stderr and "A32" in broken.stderr, broken.stderr


def test_timeout_cuts_the_run_short_and_leaves_nothing():
    before = leftovers()
    proc = subprocess.run([envs.probe_binary(), "verify", "--all", "--json", "--timeout", "0.05"],
                          capture_output=True, text=True, timeout=60)
    after = leftovers()
    assert proc.returncode == 125, (proc.returncode, proc.stderr)
    doc = verify_json(proc, "timeout")
    assert any("--timeout" in r["error"]["cause"] for r in doc["runs"] if r["error"]), doc["runs"]
    assert_nothing_left(before, after, "after --timeout")


def test_help_and_usage():
    h = subprocess.run([envs.probe_binary(), "verify", "--help"], capture_output=True, text=True)
    assert h.returncode == 0
    for section in ("OVERVIEW:", "USAGE:", "OPTIONS:", "EXIT CODES:"):
        assert section in h.stdout
    assert "internal" not in h.stdout, "the tenants' internal modes are not part of the interface"
    bad = subprocess.run([envs.probe_binary(), "verify", "--backend", "firecracker"], capture_output=True, text=True)
    assert bad.returncode == 2 and "unknown backend" in bad.stderr
    both = subprocess.run([envs.probe_binary(), "verify", "--all", "--backend", "uid"], capture_output=True, text=True)
    assert both.returncode == 2
