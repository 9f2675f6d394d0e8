"""Proof by acting that a namespace util-linux unshare(1) made is new, for where the
/proc/self/ns link proves nothing (gVisor): an object this process holds outside is not
reachable from a command run inside. Written apart from the probe, with ctypes and sockets.

  acting_reference.py ipc MODE UNSHARE-ARGS...   a SysV queue (IPC_PRIVATE), msgctl(IPC_STAT) inside
  acting_reference.py net MODE UNSHARE-ARGS...   an abstract unix socket, connect() inside

Prints "<kind> <mode> new|same|failed|unobservable <detail>" like reference.sh. Nothing is
left behind: the queue is removed and the socket closed before it exits.
"""
import ctypes
import os
import socket
import subprocess
import sys

IPC_CREAT, IPC_RMID, IPC_STAT = 0o1000, 0, 2
libc = ctypes.CDLL(None, use_errno=True)


def inside(argv):
    """The check run inside: prints visible/invisible with the errno."""
    what, target = argv
    if what == "msgstat":
        buf = ctypes.create_string_buffer(512)
        if libc.msgctl(int(target), IPC_STAT, buf) == 0:
            print("visible")
        else:
            print(f"invisible errno={ctypes.get_errno()}")
    else:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect("\0" + target)
            print("visible")
        except OSError as e:
            print(f"invisible errno={e.errno}")
        finally:
            s.close()


def outside(kind, mode, unshare_args):
    if kind == "ipc":
        qid = libc.msgget(0, IPC_CREAT | 0o600)
        if qid < 0:
            print(f"{kind} {mode} unobservable msgget errno={ctypes.get_errno()}")
            return
        cleanup, check = (lambda: libc.msgctl(qid, IPC_RMID, None)), ["msgstat", str(qid)]
    else:
        name = f"namespace-probe-reference-{os.getpid()}"
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind("\0" + name)
        listener.listen(8)
        control = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        control.connect("\0" + name)  # the control: reachable here
        control.close()
        cleanup, check = listener.close, ["connect", name]
    try:
        proc = subprocess.run(["unshare", *unshare_args, sys.executable, os.path.abspath(__file__), "inside", *check],
                              capture_output=True, text=True, timeout=30)
    finally:
        cleanup()
    seen = proc.stdout.strip()
    if proc.returncode != 0 or not seen:
        print(f"{kind} {mode} failed rc={proc.returncode}")
    elif seen == "visible":
        print(f"{kind} {mode} same outside-object-visible")
    else:
        print(f"{kind} {mode} new outside-object-{seen.replace(' ', '-')}")


if __name__ == "__main__":
    if sys.argv[1] == "inside":
        inside(sys.argv[2:])
    else:
        outside(sys.argv[1], sys.argv[2], sys.argv[3:])
