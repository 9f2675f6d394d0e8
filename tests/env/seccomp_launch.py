#!/usr/bin/python3
"""Run a command under a seccomp filter that models a restrictive container.

  seccomp_launch.py eperm CMD...  unshare, setns and clone with any CLONE_NEW* flag fail
                                  with EPERM (clone3 with ENOSYS so libc falls back to clone),
                                  as Docker's default profile does without CAP_SYS_ADMIN.
  seccomp_launch.py kill CMD...   unshare kills the process with SIGSYS.
  seccomp_launch.py kill-net CMD...
                                  unshare with CLONE_NEWNET kills the process with SIGSYS;
                                  every other unshare is allowed (a kill in one probe must not
                                  hide the others).
  seccomp_launch.py restrict CMD...
                                  unshare and clone with CLONE_NEWIPC, CLONE_NEWUTS,
                                  CLONE_NEWCGROUP or CLONE_NEWTIME fail with EPERM; user, mnt,
                                  net and pid are allowed, as systemd's
                                  RestrictNamespaces=user mnt net pid does.

Uses Debian's python3-seccomp (libseccomp), so it runs with /usr/bin/python3.
"""
import errno
import os
import sys

import seccomp

CLONE_NEWNET = 0x40000000
CLONE_NEW_BITS = [0x00020000, 0x02000000, 0x04000000, 0x08000000, 0x10000000, 0x20000000, 0x40000000, 0x00000080]


def main() -> None:
    if len(sys.argv) < 3 or sys.argv[1] not in ("eperm", "kill", "kill-net", "restrict"):
        sys.exit("usage: seccomp_launch.py eperm|kill|kill-net|restrict CMD...")
    mode, cmd = sys.argv[1], sys.argv[2:]
    f = seccomp.SyscallFilter(defaction=seccomp.ALLOW)
    if mode == "eperm":
        f.add_rule(seccomp.ERRNO(errno.EPERM), "unshare")
        f.add_rule(seccomp.ERRNO(errno.EPERM), "setns")
        for bit in CLONE_NEW_BITS:
            f.add_rule(seccomp.ERRNO(errno.EPERM), "clone", seccomp.Arg(0, seccomp.MASKED_EQ, bit, bit))
        f.add_rule(seccomp.ERRNO(errno.ENOSYS), "clone3")
    elif mode == "restrict":
        for bit in (0x08000000, 0x04000000, 0x02000000, 0x00000080):  # NEWIPC, NEWUTS, NEWCGROUP, NEWTIME
            for call in ("unshare", "clone"):
                f.add_rule(seccomp.ERRNO(errno.EPERM), call, seccomp.Arg(0, seccomp.MASKED_EQ, bit, bit))
        f.add_rule(seccomp.ERRNO(errno.ENOSYS), "clone3")
    elif mode == "kill":
        f.add_rule(getattr(seccomp, "KILL_PROCESS", seccomp.KILL), "unshare")
    else:
        f.add_rule(getattr(seccomp, "KILL_PROCESS", seccomp.KILL), "unshare",
                   seccomp.Arg(0, seccomp.MASKED_EQ, CLONE_NEWNET, CLONE_NEWNET))
    f.load()
    os.execvp(cmd[0], cmd)


if __name__ == "__main__":
    main()
