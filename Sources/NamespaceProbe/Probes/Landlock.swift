import Glibc
import CNamespaceProbe

/// Landlock: the ABI version, and in a child, proof that a ruleset denies an open outside
/// the allowed directory while the allowed one still opens.
public enum LandlockProbe {
    /// ABI version, or the errno: ENOSYS (not built / not implemented, as in gVisor),
    /// EOPNOTSUPP (built but disabled at boot).
    public static func abiVersion() -> Result<Int, Errno> {
        let v = cnp_landlock_abi_version()
        return v < 0 ? .failure(.current) : .success(Int(v))
    }

    static func run(_ w: StepWriter, _ ctx: ProbeContext) {
        let handled = cnp_LANDLOCK_ACCESS_FS_READ_FILE | cnp_LANDLOCK_ACCESS_FS_READ_DIR
        var ruleset: Int32 = -1
        let ok = w.step("landlock_create_ruleset") {
            ruleset = cnp_landlock_create_ruleset(handled)
            return .check(ruleset)
        }
            && w.step("add rule: read the scratch directory") {
                let dir = open(ctx.scratch, cnp_O_PATH | O_CLOEXEC)
                guard dir >= 0 else { return .failed(.current, "open \(ctx.scratch)") }
                defer { close(dir) }
                return .check(cnp_landlock_add_path_rule(ruleset, dir, handled), ctx.scratch)
            }
            && w.step("prctl(PR_SET_NO_NEW_PRIVS)") { .check(cnp_prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) }
            && w.step("landlock_restrict_self") { .check(cnp_landlock_restrict_self(ruleset)) }
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
