#!/bin/sh
# Run a command in a chroot, as sbuild, schroot and Shifter do: in a private mount namespace
# (nothing reaches the host), / is bound recursively under a tmpfs and the command is
# chrooted there. Its root is then not its mount namespace's root, so the kernel refuses it
# CLONE_NEWUSER (EPERM, user_namespaces(7)). A pid namespace of its own gives it a PID 1 that
# is not chrooted, in the same mount namespace, like a host's init. The tree is the host's,
# so every path works.
#   chroot_launch.sh CMD...
set -eu
exec unshare --mount --propagation private --pid --fork --mount-proc sh -c '
    mount -t tmpfs -o size=16k,mode=0755 namespace-probe-chroot /mnt
    mkdir /mnt/root
    mount --rbind / /mnt/root
    chroot /mnt/root "$@"' chroot_launch "$@"
