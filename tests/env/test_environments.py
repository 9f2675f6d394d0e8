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
    assert len(ref) == 26, f"[{env}] the reference script did not observe everything: {sorted(ref)}"


PROOF = {"pid": "fork: child is PID 1", "time": "child sees the monotonic offset"}
# Where no link proves a namespace new, these acting steps do (the probe process's objects).
ACTING_PROOF = {"net": "probe process's socket unreachable (connect)",
                "ipc": "probe process's message queue invisible (msgctl IPC_STAT)",
                "user": "write /proc/self/uid_map", "pid": PROOF["pid"], "time": PROOF["time"]}


def new_step(kind):
    return f"namespace is new (/proc/self/ns/{kind})"


@pytest.mark.parametrize("env", list(envs.ENVIRONMENTS))
def test_ok_verdicts_carry_their_proof(env, runs):
    """An ok is what was observed: every ok namespace result lists the step that proved
    the namespace new (the link, or an acting proof where the link proves nothing), and for
    pid and time the step that acted in it."""
    report = runs(env)[0]
    for kind in KINDS:
        for mode in ("as_is", "in_user_namespace"):
            r = report["namespaces"][kind][mode]
            if r["verdict"] != "ok":
                continue
            ok = {s["name"] for s in r["steps"] if s["outcome"] == "ok"}
            assert new_step(kind) in ok or ACTING_PROOF.get(kind) in ok, (env, kind, mode, sorted(ok))
            if kind in PROOF:
                assert PROOF[kind] in ok, (env, kind, mode, sorted(ok))


@pytest.mark.parametrize("env", list(envs.ENVIRONMENTS))
def test_no_inode_proof_without_the_control(env, runs):
    """Two processes in one namespace must read the same /proc/self/ns link before an inode
    difference proves anything (gVisor 20221219 numbers every process apart, 20240729 the
    user link). util-linux's readlink, run twice, is the independent control: where it says
    the link differs, no probe step may claim an inode proof and the step must say why;
    where it says same, every inode proof names the probe's own control."""
    report, ref = runs(env)[:2]
    checked = 0
    for kind in KINDS:
        control = ref[("control", kind)][0]
        for mode in ("as_is", "in_user_namespace"):
            for step in report["namespaces"][kind][mode]["steps"]:
                if step["name"] != new_step(kind):
                    continue
                checked += 1
                detail = step["detail"] or ""
                where = (env, kind, mode, control, step)
                if control == "differs":
                    assert step["outcome"] != "ok" or "inode" not in detail.split(";")[0], where
                    assert "the link is no evidence here" in detail, where
                elif control == "unreadable":
                    assert "cannot be read" in detail, where
                elif step["outcome"] == "ok" and kind not in ("pid", "time") and "root mount ID" not in detail:
                    assert "control: the probe process reads" in detail, where
    print(f"[{env}] {checked} link steps checked against util-linux's control")


@pytest.mark.parametrize("env", [e for e in envs.ENVIRONMENTS if e.startswith("gvisor")])
def test_ipc_and_net_are_proven_by_acting_under_gvisor(env, runs):
    """Where util-linux proves ipc or net new, the probe's own acting proof (its queue is
    invisible, its socket unreachable) holds, whatever the links say."""
    report, ref = runs(env)[:2]
    for kind in ("ipc", "net"):
        for mode in ("as_is", "in_user_namespace"):
            if ref[(kind, mode)][0] != "new":
                continue
            r = report["namespaces"][kind][mode]
            if r["verdict"] == "not_run":  # tried as is only
                continue
            ok = {s["name"] for s in r["steps"] if s["outcome"] == "ok"}
            assert r["verdict"] == "ok" and ACTING_PROOF[kind] in ok, (env, kind, mode, r)


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
    report = runs("gvisor-20221219-root")[0]
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
        # uid 0 with no capability: unshare needs CAP_SYS_ADMIN, the rootless way CAP_SETFCAP.
        # Root without a uid switch: every tenant would be uid 0; nothing is available.
        "root-without-capabilities": "directories",
        "root-without-cap-setfcap": "namespaces",
        "gvisor-20221219-root": "uid",
        "gvisor-20221219-unprivileged": "directories",
        # Its mount namespace is real and a fresh /proc mounts, as is and rootless.
        "gvisor-20240729-root": "namespaces",
        "gvisor-20240729-unprivileged": "namespaces",
        # Root keeps every namespace but user; uid 65534 has no way in.
        "chroot-root": "namespaces",
        "chroot-unprivileged": "landlock",
        "shared-root-propagation": "namespaces",
        # ipc and uts refused: namespaces with the kinds that work (pid, mnt, net).
        "systemd-restrict-namespaces": "namespaces",
        "seccomp-hide-landlock": "namespaces",
        # bwrap --proc mounts a fresh, unmasked proc, so a nested fresh /proc is allowed.
        "bubblewrap-unprivileged": "namespaces",
        # /proc/acpi over-mounted: a fresh proc would reveal it, the kernel says EPERM.
        "bubblewrap-masked-proc": "namespaces-shared-proc",
        "seccomp-unshare-eperm": "landlock",
        "seccomp-unshare-enosys": "landlock",
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


CAP_SETFCAP_CAUSE = ("EPERM writing uid_map: mapping uid 0 needs CAP_SETFCAP (Linux 5.12 and later), which this root "
                     "process lacks (as in a container run with --cap-drop ALL); keep CAP_SETFCAP or run the server as a "
                     "non-root uid, else no namespace backend can use a user namespace")


@pytest.mark.parametrize("env", ["root-without-capabilities", "root-without-cap-setfcap"])
def test_uid_map_without_cap_setfcap_is_explained(env, runs):
    report = runs(env)[0]
    user = report["namespaces"]["user"]["as_is"]
    assert (user["failed_step"], user["errno"]) == ("write /proc/self/uid_map", "EPERM"), user
    assert any(s["name"] == "unshare(CLONE_NEWUSER)" and s["outcome"] == "ok" for s in user["steps"])
    assert user["cause"] == CAP_SETFCAP_CAUSE


@pytest.mark.parametrize("env", ["chroot-root", "chroot-unprivileged"])
def test_chroot_is_detected_and_named(env, runs):
    report = runs(env)[0]
    root = report["environment"]["root"]
    assert root["chrooted"] is True, root
    user = report["namespaces"]["user"]["as_is"]
    assert (user["failed_step"], user["errno"]) == ("unshare(CLONE_NEWUSER)", "EPERM"), user
    assert user["cause"] == (
        f"EPERM creating a user namespace: this process is in a chroot ({root['evidence']}), and the kernel refuses "
        "CLONE_NEWUSER to a process whose root is not its mount namespace's root; run the server outside the chroot "
        "(in a container, whose root comes from pivot_root) for any backend that needs a user namespace")


def test_no_chroot_claimed_outside_one(runs):
    for env in ("host-root", "host-unprivileged", "root-without-cap-sys-admin"):
        root = runs(env)[0]["environment"]["root"]
        assert root["chrooted"] is False, (env, root)


def test_per_kind_seccomp_filter_is_named(runs):
    report = runs("systemd-restrict-namespaces")[0]
    allowed = "CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNS, CLONE_NEWNET"
    for kind in ("ipc", "uts", "cgroup", "time"):
        r = report["namespaces"][kind]["as_is"]
        flag = f"CLONE_NEW{kind.upper()}"
        assert (r["failed_step"], r["errno"]) == (f"unshare({flag})", "EPERM"), r
        assert r["cause"] == (
            f"EPERM with CAP_SYS_ADMIN held, from the seccomp filter in place (Seccomp: 2): it refuses {flag} and "
            f"allows {allowed}, a filter per namespace kind like systemd's RestrictNamespaces=; no backend that needs "
            f"{flag} is possible here")
    for kind in ("user", "pid", "mnt", "net"):
        assert report["namespaces"][kind]["as_is"]["verdict"] == "ok", kind


def test_enosys_filter_is_blamed_on_the_filter(runs):
    r = runs("seccomp-unshare-enosys")[0]["namespaces"]["net"]["as_is"]
    assert (r["failed_step"], r["errno"]) == ("unshare(0)", "ENOSYS"), r
    assert r["cause"] == ("ENOSYS from unshare(2), which every Linux since 2.6.16 has, with a seccomp filter in place "
                          "(Seccomp: 2): the filter answers ENOSYS for it; the namespace backends need this namespace, "
                          "so they cannot run in this mode")


def test_hidden_landlock_is_blamed_on_the_profile(runs):
    report = runs("seccomp-hide-landlock")[0]
    r = report["landlock"]["enforcement"]
    major, minor = report["environment"]["kernel"]["release"].split(".")[:2]
    assert r["failed_step"].startswith("landlock") and r["errno"] == "ENOSYS", r
    assert r["cause"] == (
        f"ENOSYS from Landlock on Linux {major}.{int(minor.split('-')[0])}, which has it since 5.13, with a seccomp filter in "
        "place (Seccomp: 2): the container's seccomp profile hides Landlock; allow landlock_create_ruleset, "
        "landlock_add_rule and landlock_restrict_self in it to use the landlock backend")


def test_shared_root_propagation_does_not_leak_mounts(runs):
    """shared_root_launch.sh fails the run (exit 99, probe_report raises) if its mountinfo
    changed; here the mount probes must also have worked."""
    report = runs("shared-root-propagation")[0]
    assert report["namespaces"]["mnt"]["as_is"]["verdict"] == "ok"
    assert report["sandbox_chain"]["as_is"]["verdict"] == "ok"


@pytest.mark.parametrize("env", list(envs.ENVIRONMENTS))
def test_every_cause_says_what_it_means_for_the_backend(env, runs):
    report = runs(env)[0]
    results = [(f"{k} {m}", report["namespaces"][k][m]) for k in KINDS for m in ("as_is", "in_user_namespace")]
    results += [(f"chain {m}", report["sandbox_chain"][m]) for m in ("as_is", "in_user_namespace")]
    results += [("landlock", report["landlock"]["enforcement"]), ("identity", report["identity_switch"]),
                ("ptrace", report["ptrace"]), ("seccomp", report["seccomp"]["own_filter"]),
                ("listener", report["seccomp"]["user_notification"]), ("flags", report["unshare_rejects_invalid_flags"])]
    missing = [(name, r["cause"]) for name, r in results if r["cause"] and "backend" not in r["cause"]]
    assert not missing, missing
