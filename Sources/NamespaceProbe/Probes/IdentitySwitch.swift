import Glibc
import CNamespaceProbe

/// One uid per tenant: can a child switch to another uid (the launcher's own steps,
/// TenantCredentials.switchTo), and is that uid then refused a 0700 directory of the probe's
/// uid (the kernel enforcing file isolation)?
public enum IdentitySwitchProbe {
    public static func targetUID(currentUID: uid_t) -> uid_t { currentUID == 65534 ? 65533 : 65534 }

    static func run(_ w: StepWriter, _ ctx: ProbeContext) {
        let target = targetUID(currentUID: ctx.uid)
        w.fact("target_uid", String(target))
        let ok = TenantCredentials.switchTo(uid: target, gid: target, w)
            && w.step("0700 directory of uid \(ctx.uid) is refused") {
                let fd = open(ctx.scratch, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
                if fd >= 0 { close(fd); return .failed(nil, "uid \(target) opened it: no file isolation") }
                return Errno.current == .EACCES ? .ok("EACCES") : .failed(.current, "unexpected errno")
            }
        w.verdict(ok ? .ok : .failed)
    }
}
