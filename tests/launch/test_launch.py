"""`probe launch` in every environment of the suite, asserted from inside the tenant.

For each environment, the probe run there selects a backend; the launcher then runs a
`sh -c` script as tenant "a" with that backend (and every other backend available there)
and the script prints what the tenant sees: its ids, NoNewPrivs/CapEff/Seccomp, the root's
entries, the workspace root's listing, its open descriptors, its session, its environment.
The checks come from what each backend promises (README, the attack catalogue), never from
what this machine happens to give; `test_checks_catch_an_unisolated_command` runs the same
checks on the script run without the launcher and requires them to fail.
"""
import json
import os
import shlex
import signal
import subprocess
import time
from pathlib import Path

import pytest

import environments as envs

PROBE = envs.probe_binary()

# What the tenant reports, one `key=value` per line.
INSIDE = r'''
echo "uid=$(id -u)"
echo "gid=$(id -g)"
grep -E '^(NoNewPrivs|CapEff|CapPrm|CapBnd|Seccomp):' /proc/self/status | tr -d '\t' | sed 's/:/=/'
echo "root=$(ls -A / | tr '\n' ' ')"
echo "wsroot=$(ls -A "$WSROOT" 2>&1 | tr '\n' ' ')"
echo "other=$(cat "$WSROOT/b/secret.txt" 2>&1)"
echo "fds=$(ls /proc/self/fd | tr '\n' ' ')"
sed 's/.*) //' /proc/self/stat > "$HOME/stat"  # sed is a direct child of this shell
read state ppid pgrp session rest < "$HOME/stat"
echo "session=$session pgrp=$pgrp pid=$ppid"
echo "nnp=$(setpriv -d 2>/dev/null | grep -i no_new_privs | tr -d ' ')"
echo "env=$(env | sed 's/=.*//' | sort | tr '\n' ' ')"
echo "pwd=$(pwd)"
echo "home=$HOME"
echo "tmpdir=$TMPDIR"
echo "procs=$(ls /proc | grep -c '^[0-9]')"
echo "written=$(echo x > "$HOME/probe-test" && cat "$HOME/probe-test")"
'''

SYSTEM_DIRS = {"bin", "sbin", "lib", "lib32", "lib64", "libx32", "usr", "etc", "dev", "proc", "tmp"}


def run_env(env, script, timeout=120, stdin=None, pass_fds=()):
    """Runs a shell script in the environment, with `$P` the probe and `$R` a fresh 0755
    directory owned by the environment's user (removed afterwards)."""
    wrapped = ('R=$(mktemp -d /tmp/launch-test.XXXXXX) && chmod 755 "$R" && P=' + shlex.quote(PROBE) +
               ' && (' + script + '); rc=$?; rm -rf "$R"; exit $rc')
    return subprocess.run(envs.ENVIRONMENTS[env] + ["sh", "-c", wrapped], capture_output=True, text=True,
                          timeout=timeout, cwd="/", input=stdin, pass_fds=pass_fds)


def facts_in(env):
    """`probe --format env` in that environment, as a dict."""
    proc = run_env(env, '"$P" --format env')
    assert proc.returncode == 0, proc.stderr
    return dict(line.split("=", 1) for line in proc.stdout.splitlines() if "=" in line)


LAUNCH_SETUP = r'''
mkdir -m 755 "$R/ws" && export WSROOT="$R/ws"
eval "$("$P" --format env | sed 's/^/export /')"
"$P" launch --tenant b --workspace-root "$R/ws" --backend "$BACKEND" -- sh -c 'echo B-CANARY > secret.txt' 2>/dev/null
'''


def launch_report(env, backend):
    script = (f'BACKEND={backend} && ' + LAUNCH_SETUP +
              '"$P" launch --tenant a --workspace-root "$R/ws" --backend "$BACKEND" --env WSROOT --env EXTRA=1 '
              f'--status "$R/status.json" -- sh -c {shlex.quote(INSIDE)}; rc=$?; cat "$R/status.json"; exit $rc')
    proc = run_env(env, script)
    lines = proc.stdout.splitlines()
    status = json.loads(lines[-1]) if lines and lines[-1].startswith("{") else None
    seen = dict(l.split("=", 1) for l in lines[:-1] if "=" in l)
    return proc, seen, status


def violations(backend, seen, facts, launcher_uid):
    """What the tenant saw that its backend promises it would not (empty when isolated)."""
    bad = []
    # gVisor's /proc/self/status has no NoNewPrivs line: setpriv asks prctl there.
    if seen.get("NoNewPrivs") != "1" and not (seen.get("NoNewPrivs") is None and seen.get("nnp", "").endswith((":on", ":1"))):
        bad.append(f"NoNewPrivs is {seen.get('NoNewPrivs')} ({seen.get('nnp')})")
    if seen.get("CapEff", "").strip("0"):
        bad.append(f"CapEff is {seen.get('CapEff')}")
    if facts.get("ISOLATION_HARDENING_SECCOMP_FILTER") == "1" and seen.get("Seccomp") != "2":
        bad.append(f"Seccomp is {seen.get('Seccomp')} though a filter installs here")
    if seen.get("session") is None or seen["session"].split()[0] != seen["session"].split()[2].split("=")[1]:
        bad.append(f"not a session leader: {seen.get('session')}")
    fds = set(seen.get("fds", "").split())
    if not fds <= {"0", "1", "2", "3"}:  # 3 is ls's own directory
        bad.append(f"inherited descriptors: {sorted(fds)}")
    names = set(seen.get("env", "").split())
    allowed = {"PATH", "HOME", "TMPDIR", "PWD", "USER", "LOGNAME", "LANG", "WSROOT", "EXTRA", "SHLVL", "_"}
    if not names <= allowed or any(n.startswith("ISOLATION_") for n in names):
        bad.append(f"environment leaked: {sorted(names - allowed)}")
    if "B-CANARY" in seen.get("other", ""):
        if backend != "directories":
            bad.append("read tenant b's secret.txt")
    if seen.get("written") != "x":
        bad.append(f"cannot write its own HOME: {seen.get('written')}")
    if backend in ("namespaces", "namespaces-shared-proc"):
        if seen.get("uid") == "0":
            bad.append("runs as root inside the namespaces")
        extra = set(seen.get("root", "").split()) - SYSTEM_DIRS - {seen.get("pwd", "/").split("/")[1]}
        if extra:
            bad.append(f"the root holds more than system directories and the workspace: {sorted(extra)}")
        if seen.get("wsroot", "").split() != ["a"]:
            bad.append(f"the workspace root shows {seen.get('wsroot')}")
    if backend == "namespaces" and int(seen.get("procs", "0")) > 6:
        bad.append(f"sees {seen['procs']} processes: /proc is not its own")
    if backend in ("landlock", "uid") or (facts.get("ISOLATION_UID_SWITCH") == "1" and backend != "directories"):
        if facts.get("ISOLATION_UID_SWITCH") == "1" and seen.get("uid") == str(launcher_uid):
            bad.append("runs as the launcher's uid though a per-tenant uid was verified")
    if backend == "landlock" and "Permission denied" not in seen.get("wsroot", ""):
        bad.append(f"lists the workspace root: {seen.get('wsroot')}")
    return bad


def launcher_uid(env):
    return 65534 if "unprivileged" in env else 0


@pytest.fixture(scope="module")
def env_facts():
    cache = {}

    def get(env):
        if env not in cache:
            cache[env] = facts_in(env)
        return cache[env]
    return get


@pytest.mark.parametrize("env", list(envs.ENVIRONMENTS))
def test_every_available_backend_isolates_from_inside(env, env_facts):
    facts = env_facts(env)
    if not facts["ISOLATION_AVAILABLE"]:
        # Root without a uid switch: every tenant would be uid 0. The selection offers
        # nothing and a launch is refused before anything runs.
        proc, seen, status = launch_report(env, facts["ISOLATION_BACKEND"])
        assert proc.returncode == 125 and "uid 0" in proc.stderr and seen == {}, proc.stderr
        return
    available = facts["ISOLATION_AVAILABLE"].split(",")
    assert facts["ISOLATION_BACKEND"] in available
    before = envs.host_state()
    failures = []
    for backend in available:
        proc, seen, status = launch_report(env, backend)
        assert status is not None, f"[{env} {backend}] no status JSON: {proc.stdout[-500:]} {proc.stderr[-2000:]}"
        if facts["ISOLATION_PROBE_UID"] == "0" and (backend == "directories" or facts["ISOLATION_UID_SWITCH"] != "1"):
            # The tenant would be kernel uid 0: refused before anything runs.
            assert proc.returncode == 125 and "would run the tenant as uid 0" in proc.stderr, (backend, proc.stderr)
            assert not status["command_started"] and seen == {}
            print(f"[{env}] {backend}: refused (the tenant would be uid 0)")
            continue
        if proc.returncode != 0:
            failures.append(f"{backend}: exit {proc.returncode}: {proc.stderr.strip()[-600:]}")
            continue
        assert status["schema"] == "launch-status/1" and status["backend"] == backend and status["command_started"]
        assert all(layer["applied"] for layer in status["layers"]), status["layers"]
        bad = violations(backend, seen, facts, launcher_uid(env))
        if bad:
            failures.append(f"{backend}: " + "; ".join(bad))
        print(f"[{env}] {backend}: uid {seen.get('uid')} layers: " + ", ".join(l["name"] for l in status["layers"]))
    assert envs.host_state() == before, f"[{env}] the launches left something behind"
    assert not failures, f"[{env}]\n" + "\n".join(failures)


def test_checks_catch_an_unisolated_command():
    """The same script without the launcher: the checks must find violations."""
    proc = run_env("host-root", f'mkdir -m 755 "$R/ws" "$R/ws/a" "$R/ws/b" && echo B-CANARY > "$R/ws/b/secret.txt" && '
                   f'export WSROOT="$R/ws" HOME="$R/ws/a" && exec 7</dev/null && sh -c {shlex.quote(INSIDE)}')
    seen = dict(l.split("=", 1) for l in proc.stdout.splitlines() if "=" in l)
    facts = {"ISOLATION_HARDENING_SECCOMP_FILTER": "1", "ISOLATION_UID_SWITCH": "1"}
    for backend in ("namespaces", "landlock", "uid"):
        bad = violations(backend, seen, facts, 0)
        assert any("NoNewPrivs" in b for b in bad) and any("read tenant b" in b for b in bad), bad
    assert any("descriptors" in b for b in violations("directories", seen, facts, 0))


def test_the_daemon_check_can_fail():
    """Without the launcher, the double-forked daemon of test_nothing_survives_the_launch does
    survive: the check there looks at something real."""
    token = f"sleep 600.{os.getpid()}99"
    subprocess.run(["sh", "-c", f"(setsid {token} &) ; sleep 0.2"], check=True)
    left = subprocess.run(["pgrep", "-f", "^" + token], capture_output=True, text=True).stdout.split()
    for pid in left:
        os.kill(int(pid), signal.SIGKILL)
    assert left, "the daemon did not start: the survival check would prove nothing"


# ---- Bad input: each refused with its exit code and a message, nothing created or run ----

def host_launch(args, root, env=None, timeout=60, **kw):
    full = dict(os.environ if env is None else env)
    return subprocess.run([PROBE, "launch", *args], capture_output=True, text=True, timeout=timeout,
                          env=full, cwd="/", **kw)


@pytest.fixture
def root():
    """A workspace root every per-tenant uid can reach (pytest's tmp_path is 0700)."""
    import shutil
    import tempfile
    base = Path(tempfile.mkdtemp(prefix="launch-test.", dir="/tmp"))
    os.chmod(base, 0o755)
    r = base / "ws"
    r.mkdir(mode=0o755)
    yield r
    shutil.rmtree(base)


@pytest.fixture(scope="module")
def host_env():
    """The host's ISOLATION_* values, as the entrypoint exports them."""
    facts = facts_in("host-root")
    return dict(os.environ, **facts)


def marker_ran(tmp_path):
    return (tmp_path / "ran").exists()


@pytest.mark.parametrize("tenant,needle", [("..", "not [a-z0-9]"), ("a/b", "not [a-z0-9]"), (".hidden", "not [a-z0-9]"),
                                           ("x" * 64, "at most 63"), ("", "empty"), ("Upper", "not [a-z0-9]"),
                                           ("-dash", "not [a-z0-9]")])
def test_bad_tenant_ids_are_refused(tenant, needle, root, tmp_path, host_env):
    proc = host_launch(["--tenant", tenant, "--workspace-root", str(root), "--", "touch", str(tmp_path / "ran")], root, host_env)
    assert proc.returncode == 125, proc.stderr
    assert needle in proc.stderr and proc.stderr.startswith("probe launch:")
    assert list(root.iterdir()) == [] and not marker_ran(tmp_path)


def test_bad_workspace_roots_are_refused(tmp_path, host_env):
    ww = tmp_path / "world"
    ww.mkdir()
    os.chmod(ww, 0o777)
    real = tmp_path / "real"
    real.mkdir(mode=0o755)
    link = tmp_path / "link"
    link.symlink_to(real)
    for r, needle in [(ww, "writable by group or others"), (tmp_path / "missing", "does not exist"), (link, "symlink")]:
        proc = host_launch(["--tenant", "a", "--workspace-root", str(r), "--", "touch", str(tmp_path / "ran")], r, host_env)
        assert proc.returncode == 125 and needle in proc.stderr, (r, proc.stderr)
    assert list(real.iterdir()) == [] and list(ww.iterdir()) == [] and not marker_ran(tmp_path)


@pytest.mark.parametrize("backend", ["namespaces", "landlock", "uid"])
def test_tenant_directory_replaced_by_a_symlink_is_refused(backend, root, tmp_path, host_env):
    victim = root / "victim"
    victim.mkdir(mode=0o700)
    (victim / "secret").write_text("victim")
    for target in (victim, Path("/etc")):
        link = root / "evil"
        link.symlink_to(target)
        proc = host_launch(["--tenant", "evil", "--backend", backend, "--workspace-root", str(root), "--",
                            "sh", "-c", f"touch {tmp_path}/ran; ls"], root, host_env)
        assert proc.returncode == 125 and "symlink" in proc.stderr, proc.stderr
        assert link.is_symlink() and not marker_ran(tmp_path)
        link.unlink()
    assert sorted(p.name for p in victim.iterdir()) == ["secret"] and oct(victim.stat().st_mode & 0o777) == "0o700"


def test_home_replaced_by_a_symlink_to_another_tenant_is_refused(root, tmp_path, host_env):
    assert host_launch(["--tenant", "a", "--backend", "uid", "--workspace-root", str(root), "--", "true"], root, host_env).returncode == 0
    assert host_launch(["--tenant", "b", "--backend", "uid", "--workspace-root", str(root), "--", "true"], root, host_env).returncode == 0
    home = root / "b" / ".home"
    os.rmdir(home)
    home.symlink_to(root / "a")
    proc = host_launch(["--tenant", "b", "--backend", "uid", "--workspace-root", str(root), "--", "touch", str(tmp_path / "ran")], root, host_env)
    assert proc.returncode == 125 and ".home" in proc.stderr and not marker_ran(tmp_path)
    assert (root / "a").stat().st_uid != (root / "b").stat().st_uid


def test_command_not_found_and_not_executable(root, tmp_path, host_env):
    for backend in ("namespaces", "uid"):
        proc = host_launch(["--tenant", "a", "--backend", backend, "--workspace-root", str(root), "--", "no-such-command-xyz"], root, host_env)
        assert proc.returncode == 127 and "not found" in proc.stderr, proc.stderr
        script = root / "a" / "script.sh"
        script.write_text("#!/bin/sh\necho hi\n")
        os.chmod(script, 0o644)
        proc = host_launch(["--tenant", "a", "--backend", backend, "--workspace-root", str(root), "--", str(script)], root, host_env)
        assert proc.returncode == 126 and "not executable" in proc.stderr, proc.stderr


def test_unverified_backend_and_network_none_without_a_namespace_are_refused(root, tmp_path):
    only_uid = dict(os.environ, ISOLATION_BACKEND="uid", ISOLATION_AVAILABLE="uid,directories", ISOLATION_UID_SWITCH="1")
    proc = host_launch(["--tenant", "a", "--backend", "namespaces", "--workspace-root", str(root), "--", "touch", str(tmp_path / "ran")], root, only_uid)
    assert proc.returncode == 125 and "was not verified" in proc.stderr and "uid, directories" in proc.stderr
    proc = host_launch(["--tenant", "a", "--backend", "uid", "--network", "none", "--workspace-root", str(root), "--",
                        "touch", str(tmp_path / "ran")], root, only_uid)
    assert proc.returncode == 125 and "--network none needs a network namespace" in proc.stderr
    assert list(root.iterdir()) == [] and not marker_ran(tmp_path)
    for args, needle in [(["--tenant", "a", "--bogus"], "unknown option"), (["--tenant", "a"], "after --"),
                         (["--", "true"], "--tenant"), (["--tenant", "a", "--network", "x", "--", "true"], "none or shared"),
                         (["--tenant", "a", "--limit", "cpu=1", "--", "true"], "nproc, nofile"),
                         (["--tenant", "a", "--status-fd", "99", "--", "true"], "not an open descriptor")]:
        proc = host_launch(args + ([] if "--" in args else []), root, only_uid)
        assert proc.returncode == 125 and needle in proc.stderr, (args, proc.stderr)


def test_help_names_every_option_and_exit_code():
    proc = subprocess.run([PROBE, "launch", "--help"], capture_output=True, text=True)
    assert proc.returncode == 0
    for word in ["USAGE", "--tenant", "--backend", "--network", "--env", "--time-limit", "--limit", "--status-fd",
                 "--ro-bind", "--workspace-root", "124", "125", "126", "127"]:
        assert word in proc.stdout, word


# ---- Pass-through and the end of the tree ----

@pytest.mark.parametrize("backend", ["namespaces", "namespaces-shared-proc", "landlock", "uid"])
def test_exit_status_stdin_and_signals_pass_through(backend, root, host_env):
    base = ["--tenant", "a", "--backend", backend, "--workspace-root", str(root), "--"]
    assert host_launch(base + ["sh", "-c", "exit 7"], root, host_env).returncode == 7
    assert host_launch(base + ["sh", "-c", "kill -TERM $$"], root, host_env).returncode == 128 + 15
    proc = host_launch(base + ["cat"], root, host_env, input="hello tenant\n")
    assert proc.returncode == 0 and proc.stdout == "hello tenant\n"
    # SIGTERM to the launcher reaches the command, which reports it.
    p = subprocess.Popen([PROBE, "launch", *base, "sh", "-c", "trap 'echo got-term; exit 3' TERM; echo ready; "
                          "while :; do sleep 0.05; done"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=host_env)
    assert p.stdout.readline() == "ready\n"
    p.send_signal(signal.SIGTERM)
    out, _ = p.communicate(timeout=20)
    assert p.returncode == 3 and "got-term" in out


@pytest.mark.parametrize("backend", ["namespaces", "namespaces-shared-proc", "landlock", "uid"])
def test_nothing_survives_the_launch(backend, root, host_env):
    """A tenant that double-forks a daemon and exits, and one stopped by --time-limit."""
    before = envs.host_state()
    token = f"sleep 600.{os.getpid()}{len(backend)}"  # a unique command line to look for
    base = ["--tenant", "a", "--backend", backend, "--workspace-root", str(root)]
    proc = host_launch(base + ["--", "sh", "-c", f"(setsid {token} &) ; sleep 0.2; exit 0"], root, host_env)
    assert proc.returncode == 0, proc.stderr
    start = time.monotonic()
    proc = host_launch(base + ["--time-limit", "1", "--", "sh", "-c", f"{token} & {token}"], root, host_env)
    assert proc.returncode == 124 and "time limit" in proc.stderr, proc.stderr
    assert time.monotonic() - start < 10
    left = subprocess.run(["pgrep", "-f", "^" + token], capture_output=True, text=True).stdout.split()
    assert left == [], f"processes left: {left}"
    assert envs.host_state() == before


def test_status_fd_gets_one_json_object(root, host_env):
    r, w = os.pipe()
    proc = host_launch(["--tenant", "a", "--workspace-root", str(root), "--status-fd", str(w), "--", "true"], root, host_env, pass_fds=(w,))
    os.close(w)
    data = os.read(r, 1 << 20).decode()
    os.close(r)
    assert proc.returncode == 0
    status = json.loads(data)
    assert status["exit_status"] == 0 and status["tenant"] == "a" and status["backend"] == host_env["ISOLATION_BACKEND"]
    assert status["total_micros"] > 0 and status["steps"][-1]["name"].startswith("execve")


def test_a_container_that_refuses_some_kinds_still_gets_the_others(root):
    """systemd RestrictNamespaces=user mnt net pid, modelled by a seccomp filter: the probe
    selects namespaces with pid, mnt and net, names what the missing kinds leave open, and
    the launcher uses exactly the kinds that work (before: landlock was selected)."""
    restrict = [*envs.SECCOMP[:-1], str(Path(envs.SECCOMP[-1])), "restrict"]
    env_lines = subprocess.run(restrict + [PROBE, "--format", "env"], capture_output=True, text=True, check=True).stdout
    facts = dict(l.split("=", 1) for l in env_lines.splitlines() if "=" in l)
    assert facts["ISOLATION_BACKEND"] == "namespaces" and facts["ISOLATION_NAMESPACES"] == "pid,mnt,net"
    human = subprocess.run(restrict + [PROBE], capture_output=True, text=True).stdout
    assert "also open:    no ipc namespace here" in human
    outside_ipc = os.readlink("/proc/self/ns/ipc")
    proc = subprocess.run(restrict + [PROBE, "launch", "--tenant", "a", "--workspace-root", str(root), "--status", str(root / "s.json"),
                                      "--", "sh", "-c", "readlink /proc/self/ns/ipc; ls /proc | grep -c '^[0-9]'; cat /sys/class/net/*/address 2>/dev/null | wc -l"],
                          capture_output=True, text=True, env=dict(os.environ, **facts))
    assert proc.returncode == 0, proc.stderr
    ipc, procs, _ = proc.stdout.split("\n", 2)
    assert ipc == outside_ipc, "ipc is shared: the container refuses a new one"
    assert int(procs) <= 4, "pid namespace of its own"
    status = json.loads((root / "s.json").read_text())
    assert status["namespaces"] == ["pid", "mnt", "net"] and status["network"] == "none"
    assert any("no ipc namespace" in line for line in status["reopened"])
    assert "no ipc namespace" in proc.stderr


@pytest.mark.parametrize("backend", ["namespaces", "landlock", "uid"])
def test_inherited_descriptors_and_secrets_do_not_reach_the_tenant(backend, root, host_env, tmp_path):
    """The server's open files (here fd 7 on a secret file, not close-on-exec) and its
    environment (SERVER_SECRET) stay with the launcher (catalogue A26, A27)."""
    secret = tmp_path / "server-key"
    secret.write_text("SERVER-KEY")
    fd = os.open(secret, os.O_RDONLY)
    try:
        env = dict(host_env, SERVER_SECRET="s3cr3t")
        proc = host_launch(["--tenant", "a", "--backend", backend, "--workspace-root", str(root), "--", "sh", "-c",
                            "ls /proc/self/fd | tr '\\n' ' '; echo; cat <&7 2>&1; env"], root, env, pass_fds=(fd,))
    finally:
        os.close(fd)
    assert proc.returncode == 0, proc.stderr
    first = proc.stdout.splitlines()[0].split()
    assert set(first) <= {"0", "1", "2", "3"}, f"descriptors in the tenant: {first}"
    assert "SERVER-KEY" not in proc.stdout and "s3cr3t" not in proc.stdout and "SERVER_SECRET" not in proc.stdout


def test_facts_from_a_saved_report_or_from_a_probe_run_now(root, tmp_path):
    bare = {k: v for k, v in os.environ.items() if not k.startswith("ISOLATION_")}
    report = tmp_path / "report.json"
    report.write_text(subprocess.run([PROBE, "--json"], capture_output=True, text=True, check=True).stdout)
    proc = host_launch(["--tenant", "a", "--from", str(report), "--backend", "uid", "--workspace-root", str(root),
                        "--status", str(tmp_path / "s.json"), "--", "id", "-u"], root, bare)
    assert proc.returncode == 0, proc.stderr
    assert json.loads((tmp_path / "s.json").read_text())["verified_by"] == str(report)
    assert int(proc.stdout) >= 100000
    proc = host_launch(["--tenant", "a", "--workspace-root", str(root), "--", "true"], root, bare)
    assert proc.returncode == 0 and "probing this container now" in proc.stderr


def test_per_tenant_uids_are_stable_distinct_and_skip_existing_accounts(root, host_env):
    # 65534 is nobody in /etc/passwd: a range starting there must skip it.
    def uid(tenant):
        proc = host_launch(["--tenant", tenant, "--backend", "uid", "--uid-range", "65534-65600", "--workspace-root", str(root),
                            "--", "id", "-u"], root, host_env)
        assert proc.returncode == 0, proc.stderr
        return int(proc.stdout)
    a, b, a_again = uid("a"), uid("b"), uid("a")
    assert a == a_again and a != b and 65534 not in (a, b)
    assert (root / ".tenant-uids").read_text() == f"a {a}\nb {b}\n"
    assert oct((root / ".tenant-uids").stat().st_mode & 0o777) == "0o600"
    assert (root / "a").stat().st_uid == a and (root / "b" / ".home").stat().st_uid == b


def test_limits_and_read_only_binds_reach_the_tenant(root, host_env, tmp_path):
    shared = Path("/tmp") / f"ro-bind-test-{os.getpid()}"
    shared.mkdir(mode=0o755, exist_ok=True)
    (shared / "tool.txt").write_text("TOOL\n")
    os.chmod(shared / "tool.txt", 0o644)
    try:
        for backend in ("namespaces", "landlock"):
            proc = host_launch(["--tenant", "a", "--backend", backend, "--workspace-root", str(root), "--ro-bind", str(shared),
                                "--limit", "nofile=64,nproc=50,fsize=1M", "--", "sh", "-c",
                                "ulimit -n; grep 'Max processes' /proc/self/limits | awk '{print $3}'; ulimit -f; "
                                f"cat {shared}/tool.txt; touch {shared}/x 2>&1 || echo denied"],
                               root, host_env)
            assert proc.returncode == 0, proc.stderr
            lines = proc.stdout.splitlines()
            assert lines[:4] == ["64", "50", "2048", "TOOL"], (backend, lines)
            assert "denied" in lines[-1] and not (shared / "x").exists()
    finally:
        import shutil
        shutil.rmtree(shared)


def test_directories_as_root_is_refused_and_runs_for_a_plain_user(host_env):
    """As root the tenant would be uid 0: it owns every root file and RLIMIT_NPROC does not
    bind it. Refused; the same launch by a non-root server runs (as that user)."""
    proc = run_env("host-root", 'mkdir -m 755 "$R/ws" && "$P" launch --tenant a --backend directories --workspace-root "$R/ws" -- touch /etc/owned-by-tenant')
    assert proc.returncode == 125 and "uid 0" in proc.stderr and "--backend uid" in proc.stderr
    assert not Path("/etc/owned-by-tenant").exists()
    proc = run_env("host-unprivileged", 'mkdir -m 755 "$R/ws" && eval "$("$P" --format env | sed "s/^/export /")" && '
                   '"$P" launch --tenant a --backend directories --workspace-root "$R/ws" -- sh -c "id -u; exit 3"')
    assert proc.returncode == 3 and proc.stdout.strip() == "65534", proc.stderr


def test_mounts_below_a_read_only_bind_are_read_only_too(host_env):
    """A recursive bind brings submounts along with their own flags (Docker's /etc/hosts):
    each is remounted read-only. The mounts are made in a private mount namespace."""
    script = ('mkdir -m 755 "$R/ws" "$R/ro" "$R/ro/sub" && mount -t tmpfs -o mode=0777 sub "$R/ro/sub" && '
              'eval "$("$P" --format env | sed "s/^/export /")" && '
              '"$P" launch --tenant a --backend namespaces --workspace-root "$R/ws" --ro-bind "$R/ro" -- '
              'sh -c "touch $R/ro/sub/x 2>&1; grep \\" $R/ro/sub \\" /proc/self/mountinfo"; umount "$R/ro/sub"')
    proc = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c",
                           'R=$(mktemp -d /tmp/launch-test.XXXXXX) && chmod 755 "$R" && P=' + shlex.quote(PROBE) + ' && (' + script + '); rm -rf "$R"'],
                          capture_output=True, text=True, timeout=60)
    assert "Read-only file system" in proc.stdout, proc.stdout + proc.stderr
    assert " ro," in proc.stdout or " ro " in proc.stdout, proc.stdout


def test_a_second_root_never_hands_out_a_running_tenants_uid_and_uid_0_records_are_refused(host_env):
    """Found by the second tenant-B review: each root has its own registry, so a second root
    gave its first tenant the uid of the first root's running tenant (and its sweep killed
    it). A new uid now skips every uid a process runs as; a record of uid 0 is refused."""
    import shutil
    import tempfile
    bases = [Path(tempfile.mkdtemp(prefix="launch-test.", dir="/tmp")) for _ in range(2)]
    try:
        for b in bases:
            os.chmod(b, 0o755)
        first = subprocess.Popen([PROBE, "launch", "--tenant", "b", "--backend", "uid", "--workspace-root", str(bases[0]), "--",
                                  "sh", "-c", "id -u; sleep 3"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=host_env)
        uid_b = int(first.stdout.readline())
        other = host_launch(["--tenant", "c", "--backend", "uid", "--workspace-root", str(bases[1]), "--", "id", "-u"], bases[1], host_env)
        assert other.returncode == 0 and int(other.stdout) != uid_b, (uid_b, other.stdout, other.stderr)
        assert first.wait(timeout=20) == 0, "the second root's sweep must not kill the first root's tenant"
        with open(bases[0] / ".tenant-uids", "a") as f:
            f.write("z 0\n")
        proc = host_launch(["--tenant", "z", "--backend", "uid", "--workspace-root", str(bases[0]), "--", "touch", str(bases[0] / "ran")],
                           bases[0], host_env)
        assert proc.returncode == 125 and "uid 0" in proc.stderr and not (bases[0] / "ran").exists()
    finally:
        for b in bases:
            shutil.rmtree(b)
