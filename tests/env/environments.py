"""The real environments the suite runs the probe in, and how to run a command in each.

Every environment is built on this machine from Debian packages (runsc of two releases, bubblewrap,
util-linux setpriv, python3-seccomp); see matrix/README.md for what each one models.
"""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent

UNPRIVILEGED = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                "--inh-caps=-all", "--bounding-set=-all"]
RUNSC = ["runsc", "--network=none", "do"]  # Debian bookworm's runsc, release 20221219
# Release 20240729 from bookworm-backports, unpacked by scripts/fetch-gvisor-20240729.
RUNSC_20240729 = os.environ.get("RUNSC_20240729", "/var/cache/namespace-probe/runsc-20240729/root/usr/bin/runsc")



def _bwrap():
    # A private /tmp, then the repository (and the binary's directory) bound back read-only:
    # a checkout under /tmp must stay visible inside the sandbox.
    binary_dir = os.path.dirname(os.environ.get("PROBE_BIN", "")) or str(REPO)
    return ["bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp",
            "--ro-bind", str(REPO), str(REPO), "--ro-bind", binary_dir, binary_dir,
            "--unshare-all", "--die-with-parent"]


BWRAP = _bwrap()
SECCOMP = ["/usr/bin/python3", str(HERE / "seccomp_launch.py")]

ENVIRONMENTS = {
    "host-root": [],
    "host-unprivileged": UNPRIVILEGED,
    "root-without-cap-sys-admin": ["setpriv", "--bounding-set=-sys_admin", "--inh-caps=-sys_admin"],
    "root-without-capabilities": ["setpriv", "--inh-caps=-all", "--bounding-set=-all"],
    "root-without-cap-setfcap": ["setpriv", "--inh-caps=-setfcap", "--bounding-set=-setfcap"],
    "gvisor-20221219-root": RUNSC,
    "gvisor-20221219-unprivileged": RUNSC + UNPRIVILEGED,
    "gvisor-20240729-root": [RUNSC_20240729, "--network=none", "do"],
    "gvisor-20240729-unprivileged": [RUNSC_20240729, "--network=none", "do"] + UNPRIVILEGED,
    "chroot-root": ["sh", str(HERE / "chroot_launch.sh")],
    "chroot-unprivileged": ["sh", str(HERE / "chroot_launch.sh")] + UNPRIVILEGED,
    "shared-root-propagation": ["sh", str(HERE / "shared_root_launch.sh")],
    "bubblewrap-unprivileged": UNPRIVILEGED + BWRAP,
    # Docker and OCI runtimes over-mount parts of /proc (masked paths); the kernel then
    # refuses a fresh proc mount in a nested user namespace.
    "bubblewrap-masked-proc": UNPRIVILEGED + BWRAP + ["--tmpfs", next(p for p in ("/proc/acpi", "/proc/scsi", "/proc/fs") if os.path.isdir(p))],
    "seccomp-unshare-eperm": SECCOMP + ["eperm"],
    "seccomp-unshare-enosys": SECCOMP + ["enosys"],
    "seccomp-unshare-kill": SECCOMP + ["kill"],
    "seccomp-kill-newnet": SECCOMP + ["kill-net"],
    "systemd-restrict-namespaces": SECCOMP + ["restrict-namespaces"],
    "seccomp-hide-landlock": SECCOMP + ["hide-landlock"],
    # A real OCI container as Docker makes it: default capabilities, masked /proc paths,
    # Docker's default seccomp profile (tests/env/data), run by crun.
    "docker-default-crun": [sys.executable, str(HERE / "oci_run.py"), "--runtime", "crun", "--"],
}

REQUIRED_TOOLS = {"runsc": "runsc", "bwrap": "bubblewrap", "crun": "crun", "setpriv": "util-linux",
                  "unshare": "util-linux", "/usr/bin/python3": "python3-seccomp"}


def missing_tools():
    """Tools the suite needs, with the Debian package that brings each."""
    missing = [f"{tool} (apt-get install {pkg})" for tool, pkg in REQUIRED_TOOLS.items() if not shutil.which(tool)]
    if not os.access(RUNSC_20240729, os.X_OK):
        missing.append(f"{RUNSC_20240729} (scripts/fetch-gvisor-20240729)")
    try:
        subprocess.run(["/usr/bin/python3", "-c", "import seccomp"], check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError):
        missing.append("python3 seccomp module (apt-get install python3-seccomp)")
    return missing


def probe_binary():
    path = os.environ.get("PROBE_BIN")
    if path:
        return path
    out = subprocess.run(["swift", "build", "--show-bin-path"], cwd=REPO, check=True,
                         capture_output=True, text=True).stdout.strip()
    return str(Path(out) / "probe")


def run_in(env, argv, timeout=120):
    return subprocess.run(ENVIRONMENTS[env] + argv, capture_output=True, text=True, timeout=timeout, cwd="/")


def probe_report(env, extra=()):
    proc = run_in(env, [probe_binary(), "--json", *extra])
    if proc.returncode != 0:
        raise AssertionError(f"probe failed in {env} (exit {proc.returncode}): {proc.stderr}")
    return json.loads(proc.stdout)


def reference(env):
    """util-linux's view of the same environment: {(kind, mode): (result, detail)}."""
    proc = run_in(env, ["sh", str(HERE / "reference.sh")])
    observed = {}
    for line in proc.stdout.splitlines():
        parts = line.split(" ", 3)
        if len(parts) >= 3:
            observed[(parts[0], parts[1])] = (parts[2], parts[3] if len(parts) > 3 else "")
    return observed


def host_state():
    """What a probe run must leave unchanged: mounts, our children, scratch directories."""
    mounts = Path("/proc/self/mountinfo").read_text().splitlines()
    mounts = sorted(" ".join(l.split(" ")[4:5] + l.split(" - ")[1:]) for l in mounts)
    ps = subprocess.run(["ps", "-eo", "pid=,ppid=,stat=,comm="], capture_output=True, text=True).stdout
    me = str(os.getpid())
    rows = [line.split(None, 3) for line in ps.splitlines()]
    rows = [r for r in rows if len(r) == 4]
    children = sorted(comm for pid, ppid, stat, comm in rows if ppid == me and comm != "ps")
    # Any probe process still alive or a zombie anywhere (an init that does not reap keeps
    # zombies forever), and any zombie of ours.
    probes = sorted(" ".join(r) for r in rows if r[3] == "probe" or (r[1] == me and r[2].startswith("Z")))
    scratch = sorted(str(p) for base in ("/tmp", "/dev/shm", "/var/tmp") for p in Path(base).glob("namespace-probe.*"))
    # The probe process's witnesses: its SysV queue and abstract socket must be gone.
    queues = Path("/proc/sysvipc/msg").read_text().splitlines()[1:]
    sockets = sorted(l.split()[-1] for l in Path("/proc/net/unix").read_text().splitlines()[1:] if "@namespace-probe" in l)
    return {"mounts": mounts, "children": children, "probe processes and our zombies": probes, "scratch": scratch,
            "hostname": Path("/proc/sys/kernel/hostname").read_text(), "SysV message queues": queues,
            "probe sockets": sockets}
