import Glibc
import CNamespaceProbe

/// One uid per tenant: can a child switch to another uid (the launcher's own steps,
/// TenantCredentials.switchTo), and is that uid then refused a 0700 directory of the probe's
/// uid (the kernel enforcing file isolation)?
public enum IdentitySwitchProbe {
    public static func targetUID(currentUID: uid_t) -> uid_t { currentUID == 65534 ? 65533 : 65534 }

    public static let environGuardedFact = "environ_guarded"

    /// Linux lets a process read another's /proc/PID/environ only with ptrace access (a
    /// different uid has none); gVisor 20221219 lets any uid read it. Measured, because the
    /// uid backend's promise about other tenants' environments (A14) rests on it. Not part
    /// of the verdict: the uid switch itself worked.
    static func environGuard(_ w: StepWriter, _ ctx: ProbeContext) {
        var guarded: Bool?
        w.step("another uid's /proc/PID/environ is refused") {
            let fd = open("/proc/\(ctx.probePid)/environ", O_RDONLY | O_CLOEXEC)
            if fd < 0 {
                guarded = Errno.current == .EACCES || Errno.current == .EPERM
                return guarded == true ? .ok(Errno.current.name) : .skipped("open: \(Errno.current.name)")
            }
            defer { close(fd) }
            var byte: UInt8 = 0
            let n = read(fd, &byte, 1)
            if n < 0 { guarded = Errno.current == .EACCES || Errno.current == .EPERM; return .ok("read: \(Errno.current.name)") }
            guarded = false
            return .skipped("readable: this kernel does not guard other uids' environments (A14 is open here)")
        }
        if let guarded { w.fact(environGuardedFact, guarded ? "1" : "0") }
    }

    static func run(_ w: StepWriter, _ ctx: ProbeContext) {
        let target = targetUID(currentUID: ctx.uid)
        w.fact("target_uid", String(target))
        let ok = TenantCredentials.switchTo(uid: target, gid: target, w)
            && w.step("0700 directory of uid \(ctx.uid) is refused") {
                let fd = open(ctx.scratch, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
                if fd >= 0 { close(fd); return .failed(nil, "uid \(target) opened it: no file isolation") }
                return Errno.current == .EACCES ? .ok("EACCES") : .failed(.current, "unexpected errno")
            }
        if ok { environGuard(w, ctx) }
        w.verdict(ok ? .ok : .failed)
    }
}
