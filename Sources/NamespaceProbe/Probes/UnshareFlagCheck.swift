import Glibc
import CNamespaceProbe

/// Does this kernel reject flag bits it does not implement? The Debian gVisor build returns
/// 0 for unknown bits, which makes a bare unshare() return code worthless there.
public enum UnshareFlagCheck {
    /// CLONE_PTRACE: a real clone flag that unshare(2) does not accept on Linux.
    public static let invalidFlag: UInt = 0x0000_2000

    public static func job() -> ProbeJob {
        ProbeJob(id: "unshare.invalid_flag") { w in
            let rejected = w.step("unshare(CLONE_PTRACE) is rejected") {
                cnp_unshare(invalidFlag) == -1 ? .ok("errno \(Errno.current.name)")
                    : .failed(nil, "returned 0 for a flag unshare(2) does not take")
            }
            w.verdict(rejected ? .ok : .failed)
        }
    }
}
