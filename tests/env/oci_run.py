#!/usr/bin/env python3
"""Run a command in a real OCI container made the way Docker makes one.

  oci_run.py [--runtime crun|runsc] [--rootfs host|minimal] [--seccomp docker|none] -- CMD...

The bundle gets Docker's default capabilities, masked and read-only /proc paths, its
namespaces (pid, net, ipc, uts, mount, cgroup) and, with --seccomp docker, Docker's default
seccomp profile (data/moby-seccomp-default.json) converted the way moby does
(moby/profiles setupSeccomp): the native architecture's archMap entry, and a rule is kept
only when its `includes` hold and its `excludes` do not, for these capabilities.

--rootfs host binds the host's /usr and /etc read-only (util-linux and sh are there);
--rootfs minimal holds nothing but CMD[0] copied in (a one-file static binary). The
bundle lives in a temporary directory removed afterwards; the exit status is CMD's.
"""
import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
PROFILE = HERE / "data" / "moby-seccomp-default.json"

DOCKER_CAPS = ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
               "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
               "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE"]
MASKED = ["/proc/asound", "/proc/acpi", "/proc/interrupts", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
          "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware",
          "/sys/devices/virtual/powercap"]
READONLY = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
GO_ARCH = {"x86_64": ("amd64", "SCMP_ARCH_X86_64"), "aarch64": ("arm64", "SCMP_ARCH_AARCH64")}


def kernel_version():
    parts = platform.release().split("-")[0].split(".")
    return tuple(int(p) for p in parts[:2])


def moby_to_oci(profile, caps, machine=platform.machine()):
    """Docker's conversion of its profile for a container with `caps` in its bounding set."""
    go_arch, scmp_arch = GO_ARCH[machine]
    arches = next([e["architecture"], *e.get("subArchitectures", [])] for e in profile["archMap"]
                  if e["architecture"] == scmp_arch)
    kernel = kernel_version()

    def min_kernel_ok(spec):
        mk = spec.get("minKernel")
        return mk is None or kernel >= tuple(int(p) for p in mk.split(".")[:2])

    syscalls = []
    for rule in profile["syscalls"]:
        inc, exc = rule.get("includes", {}), rule.get("excludes", {})
        if exc.get("arches") and go_arch in exc["arches"]:
            continue
        if exc.get("caps") and any(c in caps for c in exc["caps"]):
            continue
        if exc.get("minKernel") and min_kernel_ok({"minKernel": exc["minKernel"]}):
            continue
        if inc.get("arches") and go_arch not in inc["arches"]:
            continue
        if inc.get("caps") and not all(c in caps for c in inc["caps"]):
            continue
        if not min_kernel_ok(inc):
            continue
        out = {"names": rule["names"], "action": rule["action"]}
        for key in ("args", "errnoRet"):
            if key in rule:
                out[key] = rule[key]
        syscalls.append(out)
    result = {"defaultAction": profile["defaultAction"], "architectures": arches, "syscalls": syscalls}
    if "defaultErrnoRet" in profile:
        result["defaultErrnoRet"] = profile["defaultErrnoRet"]
    return result


def bundle_config(args, rootfs_mode, seccomp):
    mounts = [
        {"destination": "/proc", "type": "proc", "source": "proc"},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
        {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
         "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
        {"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
        {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
        {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev", "mode=1777"]},
    ]
    if rootfs_mode == "host":
        # /opt carries the Swift runtime a debug build links against.
        for path in ("/usr", "/etc", "/opt", str(REPO)):
            if not os.path.isdir(path):
                continue
            mounts.append({"destination": path, "type": "bind", "source": path, "options": ["rbind", "ro"]})
    config = {
        "ociVersion": "1.0.2",
        "process": {
            "terminal": False, "user": {"uid": 0, "gid": 0}, "args": args, "cwd": "/",
            "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root"],
            "capabilities": {k: DOCKER_CAPS for k in ("bounding", "effective", "permitted")},
            "noNewPrivileges": False,
        },
        "root": {"path": "rootfs", "readonly": True},
        "hostname": "oci-probe",
        "mounts": mounts,
        "linux": {
            "namespaces": [{"type": t} for t in ("pid", "network", "ipc", "uts", "mount", "cgroup")],
            "maskedPaths": MASKED,
            "readonlyPaths": READONLY,
        },
    }
    if seccomp == "docker":
        config["linux"]["seccomp"] = moby_to_oci(json.loads(PROFILE.read_text()), DOCKER_CAPS)
    return config


def make_rootfs(rootfs, mode, args):
    for d in ("proc", "dev", "sys", "tmp", "usr", "etc", "opt", "root"):
        (rootfs / d).mkdir(parents=True, exist_ok=True)
    if mode == "host":
        for link in ("bin", "sbin", "lib", "lib64"):
            target = os.readlink(f"/{link}") if os.path.islink(f"/{link}") else f"usr/{link}"
            (rootfs / link).symlink_to(target)
        (rootfs / str(REPO).lstrip("/")).mkdir(parents=True, exist_ok=True)
        return args
    # minimal: only the program itself, at /CMD0-name
    name = "/" + Path(args[0]).name
    shutil.copy2(args[0], rootfs / name.lstrip("/"))
    return [name, *args[1:]]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runtime", choices=["crun", "runsc"], default="crun")
    parser.add_argument("--rootfs", choices=["host", "minimal"], default="host")
    parser.add_argument("--seccomp", choices=["docker", "none"], default="docker")
    parser.add_argument("--rootfs-dir", help="use this prepared directory as the root (read-only) instead")
    parser.add_argument("--env", action="append", default=[], metavar="KEY=VALUE", help="extra environment")
    parser.add_argument("cmd", nargs=argparse.REMAINDER)
    opts = parser.parse_args()
    cmd = opts.cmd[1:] if opts.cmd[:1] == ["--"] else opts.cmd
    if not cmd:
        parser.error("give the command after --")
    with tempfile.TemporaryDirectory(prefix="oci-bundle.") as d:
        bundle = Path(d)
        if opts.rootfs_dir:
            rootfs, args = Path(opts.rootfs_dir).resolve(), cmd
        else:
            rootfs = bundle / "rootfs"
            args = make_rootfs(rootfs, opts.rootfs, cmd)
        config = bundle_config(args, "minimal" if opts.rootfs_dir else opts.rootfs, opts.seccomp)
        config["root"]["path"] = str(rootfs)
        config["process"]["env"] += opts.env
        (bundle / "config.json").write_text(json.dumps(config, indent=1))
        name = f"probe-{uuid.uuid4().hex[:12]}"
        if opts.runtime == "crun":
            # crun refuses hosts that mount cgroups in hybrid mode (v1 controllers plus a v2
            # tree), as this VM does. It runs in a private mount namespace where
            # /sys/fs/cgroup is a plain cgroup2 mount, which the host never sees, and creates
            # no cgroup (the probe needs no limits).
            run = ["unshare", "--mount", "--propagation", "private", "sh", "-c",
                   'mount -t cgroup2 none /sys/fs/cgroup && exec "$@"', "sh",
                   "crun", "--cgroup-manager=disabled", "run", "--bundle", str(bundle), name]
        else:
            run = ["runsc", "--network=none", "run", "--bundle", str(bundle), name]
        proc = subprocess.run(run, stdin=subprocess.DEVNULL)
        sys.exit(proc.returncode)


if __name__ == "__main__":
    main()
