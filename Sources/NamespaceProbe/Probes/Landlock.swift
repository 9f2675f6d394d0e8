import Glibc
import CNamespaceProbe

/// Landlock: the ABI version, and in a child, proof that the launcher's own ruleset
/// (LandlockRuleset with the tenant rules, the scratch directory as the tenant's area) denies
/// an open outside what it allows while the allowed directory still opens.
public enum LandlockProbe {
    /// ABI version, or the errno: ENOSYS (not built / not implemented, as in gVisor),
    /// EOPNOTSUPP (built but disabled at boot).
    public static func abiVersion() -> Result<Int, Errno> { LandlockRuleset.abi() }

    static func run(_ w: StepWriter, _ ctx: ProbeContext) {
        var abi = 0
        let ok = w.step("landlock ABI version") {
            switch abiVersion() {
            case .success(let v): abi = v; return .ok(String(v))
            case .failure(let e): return .failed(e)
            }
        }
            && w.step("prctl(PR_SET_NO_NEW_PRIVS)") { .check(cnp_prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) }
            && LandlockRuleset.apply(.tenant(area: [ctx.scratch]), abi: abi, w)
            && w.step("open / is denied") {
                let fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
                if fd >= 0 { close(fd); return .failed(nil, "opened / despite the ruleset") }
                return Errno.current == .EACCES ? .ok("EACCES") : .failed(.current, "unexpected errno")
            }
            && w.step("open allowed dir still works") {
                let fd = open(ctx.scratch, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
                if fd < 0 { return .failed(.current) }
                close(fd)
                return .ok()
            }
        w.verdict(ok ? .ok : .failed)
    }
}
