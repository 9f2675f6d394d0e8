"""The built probe in real restricted environments, checked against util-linux.

For each environment: every namespace verdict and the rootless sandbox chain must agree with
what util-linux unshare(1) observes there; a disagreement fails and prints both sides. Where
util-linux cannot observe something, the test prints it as unverified. Around every run the
host's mounts, processes and scratch directories must be unchanged.
"""
import json
import subprocess

import pytest

import environments as envs

KINDS = ["user", "pid", "mnt", "net", "ipc", "uts", "cgroup", "time"]


def test_required_tools_present():
    missing = envs.missing_tools()
    assert not missing, "missing tools; run scripts/test as root to install them: " + ", ".join(missing)


@pytest.fixture(scope="module")
def runs():
    cache = {}

    def get(env):
        if env not in cache:
            before = envs.host_state()
            report = envs.probe_report(env)
            after = envs.host_state()
            cache[env] = (report, envs.reference(env), before, after)
        return cache[env]
    return get


def agreement(verdict, ref):
    """True/False when util-linux's observation decides, None when it cannot."""
    result = ref[0]
    if result == "new":
        return verdict == "ok"
    if result in ("failed", "same"):
        return verdict != "ok"
    return None


@pytest.mark.parametrize("env", list(envs.ENVIRONMENTS))
def test_namespace_verdicts_match_util_linux(env, runs):
    report, ref, _, _ = runs(env)
    disagreements, unverified = [], []
    for kind in KINDS:
        for mode in ("as_is", "in_user_namespace"):
            if (kind, mode) not in ref:
                continue
            probe = report["namespaces"][kind][mode]
            verdict = probe["verdict"]
            agree = agreement(verdict, ref[(kind, mode)])
            line = f"{kind:6} {mode:17} probe={verdict} ({probe['failed_step']} {probe['errno']})  util-linux={' '.join(ref[(kind, mode)])}"
            if verdict == "not_run":
                # Tried only where unshare() as is was refused; the as-is result stands.
                assert report["namespaces"][kind]["as_is"]["steps"][-1]["name"] != f"unshare(CLONE_NEW{kind.upper()})" or \
                    report["namespaces"][kind]["as_is"]["verdict"] != "failed", line
                unverified.append(line + "  [probe did not try: unshare() as is was not refused]")
                continue
            if agree is False:
                disagreements.append(line)
            elif agree is None:
                unverified.append(line + "  [util-linux cannot observe: probe side unverified]")
    for mode in ("as_is", "in_user_namespace"):
        chain = report["sandbox_chain"][mode]
        ref_ok = ref[("chain", mode)][0] == "ok"
        if chain["verdict"] == "not_run":
            print(f"[{env}] chain {mode}: probe did not try (unshare() as is was not refused); util-linux={'ok' if ref_ok else 'failed'}")
            continue
        if (chain["verdict"] == "ok") != ref_ok:
            disagreements.append(f"chain {mode}: probe={chain['verdict']} at {chain['failed_step']} {chain['errno']}  util-linux={'ok' if ref_ok else 'failed'}")
    for line in unverified:
        print(f"[{env}] {line}")
    assert not disagreements, f"[{env}] probe and util-linux disagree:\n" + "\n".join(disagreements)
    assert len(ref) == 18, f"[{env}] the reference script did not observe everything: {sorted(ref)}"


PROOF = {"pid": "fork: child is PID 1", "time": "child sees the monotonic offset"}


@pytest.mark.parametrize("env", list(envs.ENVIRONMENTS))
def test_ok_verdicts_carry_their_proof(env, runs):
    """An ok is what was observed: every ok namespace result lists the step that proved
    the namespace new, and for pid and time the step that acted in it."""
    report = runs(env)[0]
    for kind in KINDS:
        for mode in ("as_is", "in_user_namespace"):
            r = report["namespaces"][kind][mode]
            if r["verdict"] != "ok":
                continue
            ok = {s["name"] for s in r["steps"] if s["outcome"] == "ok"}
            assert any(n.startswith("namespace is new") or n.startswith("uid_map") for n in ok) or kind == "user", (env, kind, mode, sorted(ok))
            if kind in PROOF:
                assert PROOF[kind] in ok, (env, kind, mode, sorted(ok))


@pytest.mark.parametrize("env", list(envs.ENVIRONMENTS))
def test_capability_sets_match_prctl(env, runs):
    """Bounding and ambient sets come from /proc/self/status or are inferred; prctl(2) asked
    bit by bit in the same environment must say the same."""
    report, ref, _, _ = runs(env)
    bounding, ambient = ref[("caps", "prctl")]
    caps = report["capabilities"]
    assert (caps["bounding"]["mask"], caps["ambient"]["mask"]) == (bounding, ambient), f"[{env}] probe={caps['bounding']['mask']} {caps['ambient']['mask']} prctl={bounding} {ambient}"


@pytest.mark.parametrize("env", list(envs.ENVIRONMENTS))
def test_nothing_left_behind(env, runs):
    _, _, before, after = runs(env)
    for key in before:
        assert before[key] == after[key], f"[{env}] {key} changed across a probe run:\nbefore={before[key]}\nafter={after[key]}"


def test_gvisor_is_detected_only_under_gvisor(runs):
    for env in envs.ENVIRONMENTS:
        report = runs(env)[0]
        gvisor = next(r for r in report["runtimes"] if r["name"] == "gvisor")
        expected = "yes" if env.startswith("gvisor") else "no"
        assert gvisor["confidence"] == expected, f"[{env}] gVisor confidence {gvisor['confidence']}: {gvisor['evidence']}"


def test_seccomp_kill_is_reported_and_run_goes_on(runs):
    report = runs("seccomp-unshare-kill")[0]
    for kind in KINDS:
        ns = report["namespaces"][kind]["as_is"]
        assert ns["verdict"] == "killed" and ns["signal"] == "SIGSYS", (kind, ns)
        assert ns["failed_step"] == "unshare(0)", (kind, ns)
        assert "seccomp" in ns["cause"], ns["cause"]
    # Probes that do not call unshare still ran to a verdict.
    assert report["ptrace"]["verdict"] == "ok"
    assert report["selection"]["backend"] in ("landlock", "uid")


def test_a_kill_in_one_kind_does_not_hide_the_others(runs):
    """All kinds share one probe child; a filter that kills only unshare(CLONE_NEWNET) must
    cost the net result alone (the runner forks the child again for the rest)."""
    report = runs("seccomp-kill-newnet")[0]
    for mode in ("as_is", "in_user_namespace"):
        net = report["namespaces"]["net"][mode]
        assert (net["verdict"], net["signal"], net["failed_step"]) == ("killed", "SIGSYS", "unshare(CLONE_NEWNET)"), (mode, net)
    for kind in KINDS:
        if kind != "net":
            assert report["namespaces"][kind]["as_is"]["verdict"] == "ok", (kind, report["namespaces"][kind]["as_is"])
    assert report["sandbox_chain"]["as_is"]["verdict"] == "killed"
    assert report["identity_switch"]["verdict"] == "ok" and report["landlock"]["enforcement"]["verdict"] == "ok"


@pytest.mark.parametrize("env", ["seccomp-unshare-eperm", "docker-default-crun"])
def test_seccomp_eperm_is_blamed_on_the_filter(env, runs):
    report = runs(env)[0]
    ns = report["namespaces"]["net"]["as_is"]
    assert (ns["verdict"], ns["failed_step"], ns["errno"]) == ("failed", "unshare(0)", "EPERM")
    assert "seccomp" in ns["cause"]
    # The filter answers before the kernel checks flags: no claim about flag validation.
    assert report["unshare_rejects_invalid_flags"]["verdict"] == "unverifiable"


def test_gvisor_traps_are_caught(runs):
    report = runs("gvisor-root")[0]
    # unshare() returns 0 for a flag it does not take: return codes prove nothing there.
    assert report["unshare_rejects_invalid_flags"]["verdict"] == "failed"
    time = report["namespaces"]["time"]["as_is"]
    assert time["verdict"] != "ok" and any(s["name"] == "unshare(CLONE_NEWTIME)" and s["outcome"] == "ok" for s in time["steps"])
    assert report["sandbox_chain"]["as_is"]["failed_step"].startswith("make / private")
    assert report["selection"]["backend"] == "uid"


def test_selection_per_environment(runs):
    expected = {
        "host-root": "namespaces",
        "host-unprivileged": "namespaces",
        "root-without-cap-sys-admin": "namespaces",
        "gvisor-root": "uid",
        "gvisor-unprivileged": "directories",
        # bwrap --proc mounts a fresh, unmasked proc, so a nested fresh /proc is allowed.
        "bubblewrap-unprivileged": "namespaces",
        # /proc/acpi over-mounted: a fresh proc would reveal it, the kernel says EPERM.
        "bubblewrap-masked-proc": "namespaces-shared-proc",
        "seccomp-unshare-eperm": "landlock",
        "seccomp-unshare-kill": "landlock",
        # Without network isolation no namespace backend; Landlock still works.
        "seccomp-kill-newnet": "landlock",
        # Docker's profile denies unshare without CAP_SYS_ADMIN; root keeps CAP_SETUID.
        "docker-default-crun": "landlock",
    }
    got = {env: runs(env)[0]["selection"]["backend"] for env in envs.ENVIRONMENTS}
    assert got == expected


@pytest.mark.parametrize("timeout", ["0.001", "0.005"])
def test_a_tiny_deadline_kills_probes_cleanly(timeout):
    """Probes killed mid-step (inside mount namespaces, with grandchildren) are reported as
    timeout, never selected, and leave nothing on the host."""
    before = envs.host_state()
    proc = subprocess.run([envs.probe_binary(), "--json", "--timeout", timeout], capture_output=True, text=True, timeout=60)
    after = envs.host_state()
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    verdicts = [report["namespaces"][k]["as_is"]["verdict"] for k in KINDS]
    assert "timeout" in verdicts or report["sandbox_chain"]["as_is"]["verdict"] == "timeout", verdicts
    chain = report["sandbox_chain"]["as_is"]
    if chain["verdict"] == "timeout":
        assert report["selection"]["backend"] not in ("namespaces", "namespaces-shared-proc")
    for key in before:
        assert before[key] == after[key], f"{key} changed after a run with --timeout {timeout}"
