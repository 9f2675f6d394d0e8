#!/usr/bin/python3
"""Run a command under a seccomp filter that models a restrictive container.

  seccomp_launch.py eperm CMD...  unshare, setns and clone with any CLONE_NEW* flag fail
                                  with EPERM (clone3 with ENOSYS so libc falls back to clone),
                                  as Docker's default profile does without CAP_SYS_ADMIN.
  seccomp_launch.py enosys CMD...
                                  unshare and setns fail with ENOSYS, as under a profile whose
                                  default answer is ENOSYS (containers-common's, used by Podman
                                  and CRI-O) when it does not list them.
  seccomp_launch.py kill CMD...   unshare kills the process with SIGSYS.
  seccomp_launch.py kill-net CMD...
                                  unshare with CLONE_NEWNET kills the process with SIGSYS;
                                  every other unshare is allowed (a kill in one probe must not
                                  hide the others).
  seccomp_launch.py restrict-namespaces CMD...   (or: restrict)
                                  unshare, clone and setns with CLONE_NEWIPC, CLONE_NEWUTS,
                                  CLONE_NEWCGROUP or CLONE_NEWTIME fail with EPERM, every other
                                  kind is allowed: systemd's RestrictNamespaces=user mnt pid net
                                  compiles to this (clone3 gets ENOSYS, as systemd does).
  seccomp_launch.py hide-landlock CMD...
                                  landlock_create_ruleset, landlock_add_rule and
                                  landlock_restrict_self fail with ENOSYS, as in a container
                                  profile written before Landlock (Linux 5.13).

Uses Debian's python3-seccomp (libseccomp), so it runs with /usr/bin/python3.
"""
import errno
import os
import sys

import seccomp

CLONE_NEWNET = 0x40000000
# CLONE_NEWIPC, CLONE_NEWUTS, CLONE_NEWCGROUP, CLONE_NEWTIME.
RESTRICTED_BITS = [0x08000000, 0x04000000, 0x02000000, 0x00000080]
MODES = ("eperm", "enosys", "kill", "kill-net", "restrict-namespaces", "restrict", "hide-landlock")
CLONE_NEW_BITS = [0x00020000, 0x02000000, 0x04000000, 0x08000000, 0x10000000, 0x20000000, 0x40000000, 0x00000080]


def main() -> None:
    if len(sys.argv) < 3 or sys.argv[1] not in MODES:
        sys.exit(f"usage: seccomp_launch.py {'|'.join(MODES)} CMD...")
    mode, cmd = sys.argv[1], sys.argv[2:]
    f = seccomp.SyscallFilter(defaction=seccomp.ALLOW)
    if mode == "eperm":
        f.add_rule(seccomp.ERRNO(errno.EPERM), "unshare")
        f.add_rule(seccomp.ERRNO(errno.EPERM), "setns")
        for bit in CLONE_NEW_BITS:
            f.add_rule(seccomp.ERRNO(errno.EPERM), "clone", seccomp.Arg(0, seccomp.MASKED_EQ, bit, bit))
        f.add_rule(seccomp.ERRNO(errno.ENOSYS), "clone3")
    elif mode == "enosys":
        f.add_rule(seccomp.ERRNO(errno.ENOSYS), "unshare")
        f.add_rule(seccomp.ERRNO(errno.ENOSYS), "setns")
    elif mode in ("restrict-namespaces", "restrict"):
        for bit in RESTRICTED_BITS:
            for call, arg in (("unshare", 0), ("clone", 0), ("setns", 1)):
                f.add_rule(seccomp.ERRNO(errno.EPERM), call, seccomp.Arg(arg, seccomp.MASKED_EQ, bit, bit))
        f.add_rule(seccomp.ERRNO(errno.ENOSYS), "clone3")
    elif mode == "hide-landlock":
        for call in ("landlock_create_ruleset", "landlock_add_rule", "landlock_restrict_self"):
            f.add_rule(seccomp.ERRNO(errno.ENOSYS), call)
    elif mode == "kill":
        f.add_rule(getattr(seccomp, "KILL_PROCESS", seccomp.KILL), "unshare")
    else:
        f.add_rule(getattr(seccomp, "KILL_PROCESS", seccomp.KILL), "unshare",
                   seccomp.Arg(0, seccomp.MASKED_EQ, CLONE_NEWNET, CLONE_NEWNET))
    f.load()
    os.execvp(cmd[0], cmd)


if __name__ == "__main__":
    main()
