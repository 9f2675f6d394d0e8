"""The bounding and ambient capability sets asked of the kernel bit by bit with prctl(2),
through ctypes: a reference for the probe, which takes them from /proc/self/status where it
can and infers an empty ambient set when no capability is both permitted and inheritable."""
import ctypes

PR_CAPBSET_READ, PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET = 23, 47, 1
libc = ctypes.CDLL(None, use_errno=True)
# The kernel answers EINVAL past its last capability (gVisor has no cap_last_cap file).
bits = []
for bit in range(64):
    if libc.prctl(PR_CAPBSET_READ, bit, 0, 0, 0) < 0:
        break
    bits.append(bit)
bounding = sum(1 << bit for bit in bits if libc.prctl(PR_CAPBSET_READ, bit, 0, 0, 0) == 1)
ambient = sum(1 << bit for bit in bits if libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, bit, 0, 0) == 1)
print(f"caps prctl {bounding:x} {ambient:x}")
