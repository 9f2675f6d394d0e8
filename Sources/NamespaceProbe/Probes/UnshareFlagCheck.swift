import Glibc
import CNamespaceProbe

/// Does this kernel reject flag bits it does not implement? The Debian gVisor build returns
/// 0 for unknown bits, which makes a bare unshare() return code worthless there.
public enum UnshareFlagCheck {
    /// CLONE_PTRACE: a real clone flag that unshare(2) does not accept on Linux.
    public static let invalidFlag: UInt = 0x0000_2000

    static func run(_ w: StepWriter) {
        var result = StepResult.ok()
        w.step("unshare(CLONE_PTRACE) is rejected") {
            if cnp_unshare(invalidFlag) == 0 {
                result = .failed(nil, "returned 0 for a flag unshare(2) does not take")
            } else {
                let e = Errno.current
                result = e == .EINVAL ? .ok("EINVAL") : .skipped("failed with \(e.name) before the kernel checked the flags")
            }
            return result
        }
        switch result {
        case .ok: w.verdict(.ok)
        case .failed: w.verdict(.failed)
        case .skipped(let why):
            // EPERM from a seccomp filter says nothing about how the kernel treats flags.
            w.verdict(.unverifiable, "unshare is refused before flag validation (\(why))")
        }
    }
}
