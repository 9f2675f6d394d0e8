"""examples/container/entrypoint.sh in a minimal root file system (busybox and the one-file
probe, nothing else) under runsc, and as a plain process: the exported variables, the log
line, and the refusal when the host is weaker than ISOLATION_MINIMUM."""
import os
import shutil
import subprocess
import sys

import pytest

import environments as envs

ENTRYPOINT = envs.REPO / "examples" / "container" / "entrypoint.sh"
SERVER = "env | grep ^ISOLATION_ | sort"   # stands in for the server: shows what it was given


@pytest.fixture(scope="module")
def rootfs(static_probe, tmp_path_factory):
    busybox = shutil.which("busybox") or "/bin/busybox"
    assert os.path.exists(busybox), "busybox-static is missing (scripts/test installs it)"
    root = tmp_path_factory.mktemp("entrypoint-rootfs")
    # As in any image: / searchable by every uid, /tmp sticky and world-writable (probe verify
    # launches tenants with their own uids under /tmp).
    root.chmod(0o755)
    for d in ("bin", "usr/local/bin", "proc", "dev", "sys", "tmp", "etc", "root", "opt", "usr"):
        (root / d).mkdir(parents=True, exist_ok=True)
    (root / "tmp").chmod(0o1777)
    shutil.copy2(busybox, root / "bin" / "busybox")
    for tool in ("sh", "env", "grep", "sort", "cat", "echo"):
        (root / "bin" / tool).symlink_to("busybox")
    shutil.copy2(static_probe, root / "usr" / "local" / "bin" / "probe")
    shutil.copy2(ENTRYPOINT, root / "entrypoint.sh")
    return root


def under_runsc(rootfs, minimum):
    return subprocess.run([sys.executable, str(envs.HERE / "oci_run.py"), "--runtime", "runsc", "--seccomp", "none",
                           "--rootfs-dir", str(rootfs), "--env", f"ISOLATION_MINIMUM={minimum}", "--",
                           "/bin/sh", "/entrypoint.sh", "/bin/sh", "-c", SERVER],
                          capture_output=True, text=True, timeout=120)


def exported(stdout):
    return dict(line.split("=", 1) for line in stdout.splitlines() if "=" in line)


def test_under_gvisor_exports_the_choice_and_execs_the_server(rootfs):
    done = under_runsc(rootfs, "uid")
    assert done.returncode == 0, done.stderr
    env = exported(done.stdout)
    assert env["ISOLATION_BACKEND"] == "uid", "root under gVisor: one uid per tenant is the strongest"
    assert env["ISOLATION_GVISOR"] == "yes"
    assert "entrypoint: isolation backend uid verified (minimum uid" in done.stderr
    assert "uid: every promised protection held" in done.stderr, "probe verify ran before the server"


def test_under_gvisor_refuses_below_the_minimum(rootfs):
    done = under_runsc(rootfs, "namespaces")
    assert done.returncode == 3
    assert "ISOLATION_BACKEND" not in done.stdout, "the server never started"
    assert "required namespaces but the strongest available backend is uid" in done.stderr
    assert "entrypoint: refusing to start" in done.stderr


def test_as_a_plain_process(static_probe, tmp_path):
    env = dict(os.environ, PROBE=static_probe, ISOLATION_MINIMUM="namespaces-shared-proc",
               ISOLATION_ENV_FILE=str(tmp_path / "isolation.env"))
    done = subprocess.run(["sh", str(ENTRYPOINT), "sh", "-c", SERVER], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert exported(done.stdout)["ISOLATION_BACKEND"] == "namespaces", "root on this VM"
    assert exported(done.stdout)["ISOLATION_USER_NAMESPACE"] == "0"
    assert "namespaces: every promised protection held" in done.stderr


def test_a_broken_promise_stops_the_container(static_probe, tmp_path):
    """probe verify exits 4 (here a stand-in that says so: the real failure is proven in
    tests/verify): the server must not start, and the log says why."""
    fake = tmp_path / "probe"
    fake.write_text(f'#!/bin/sh\nif [ "$1" = verify ]; then echo "probe verify: uid: promised protection failed: A01" >&2; exit 4; fi\nexec {static_probe} "$@"\n')
    fake.chmod(0o755)
    env = dict(os.environ, PROBE=str(fake), ISOLATION_ENV_FILE=str(tmp_path / "isolation.env"))
    done = subprocess.run(["sh", str(ENTRYPOINT), "sh", "-c", "echo SERVER STARTED"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 4, done.stderr
    assert "SERVER STARTED" not in done.stdout
    assert "promised protection failed: A01" in done.stderr and "does not keep tenants apart" in done.stderr


def test_a_failing_probe_stops_the_container(tmp_path):
    env = dict(os.environ, PROBE="/nonexistent/probe", ISOLATION_ENV_FILE=str(tmp_path / "x.env"))
    done = subprocess.run(["sh", str(ENTRYPOINT), "true"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "namespace-probe failed with exit status 127" in done.stderr
