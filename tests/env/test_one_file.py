"""The one-file build (scripts/build-static) runs where there is nothing else: a root file
system holding only the binary, entered by chroot on the host and by runsc (gVisor) as an
OCI bundle, the way a slim image runs on Cloud Run's first generation."""
import json
import os
import shutil
import subprocess
import tempfile

import pytest

import environments as envs


def test_is_one_small_self_contained_file(static_probe):
    assert os.path.getsize(static_probe) < 12 * 2**20, "the one file must stay under 12 MiB"
    ldd = subprocess.run(["ldd", static_probe], capture_output=True, text=True)
    assert "not a dynamic executable" in ldd.stdout + ldd.stderr, ldd.stdout


def check_report(text):
    report = json.loads(text)
    assert report["schema"] == 1
    assert report["selection"]["backend"]
    return report


def test_runs_by_chroot_in_an_empty_root(static_probe):
    with tempfile.TemporaryDirectory(prefix="probe-rootfs.") as root:
        for d in ("proc", "tmp", "dev"):
            os.mkdir(os.path.join(root, d))
        shutil.copy2(static_probe, os.path.join(root, "probe"))
        # A private mount namespace so the proc mount never shows on the host.
        script = f'mount -t proc proc {root}/proc && exec chroot {root} /probe --json'
        proc = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr
        report = check_report(proc.stdout)
        assert report["namespaces"]["user"]["as_is"]["verdict"] in ("ok", "failed")
        assert sorted(os.listdir(root)) == ["dev", "probe", "proc", "tmp"], "nothing left in the root"


def test_runs_under_runsc_with_only_itself_in_the_root(static_probe):
    proc = subprocess.run([envs.sys.executable, str(envs.HERE / "oci_run.py"), "--runtime", "runsc", "--rootfs", "minimal",
                           "--seccomp", "none", "--", static_probe, "--json"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    report = check_report(proc.stdout)
    gvisor = next(r for r in report["runtimes"] if r["name"] == "gvisor")
    assert gvisor["confidence"] == "yes", gvisor
    assert report["environment"]["pid1"] is True, "runs as PID 1 of the sandbox and reaps its children"
