import Glibc
import CNamespaceProbe

/// What every probe child needs to know about the process that launched it.
public struct ProbeContext {
    public let uid: uid_t
    public let gid: gid_t
    public let probePid: pid_t
    /// A 0700 directory owned by the probe's uid, removed after the run.
    public let scratch: String
    /// Mount point used by the mount and sandbox-chain probes (inside their own namespaces).
    public var mountPoint: String { scratch + "/mnt" }
    /// The directory the sandbox chain binds into its new root, like a tenant workspace.
    public var workspace: String { scratch + "/workspace" }

    public init(uid: uid_t, gid: gid_t, probePid: pid_t, scratch: String) {
        self.uid = uid
        self.gid = gid
        self.probePid = probePid
        self.scratch = scratch
    }
}

/// Entering a user namespace the way an unprivileged launcher does: unshare, deny
/// setgroups (required before gid_map), map our uid and gid to root inside.
public enum UserNamespaceSetup {
    public static func enter(_ w: StepWriter, _ ctx: ProbeContext) -> Bool {
        let before = NamespaceVerification.before(.user)
        guard w.step("unshare(CLONE_NEWUSER)", { .check(cnp_unshare(NamespaceKind.user.cloneFlag)) }) else { return false }
        guard NamespaceVerification.verifyNew(.user, before: before, w) != .notNew else { return false }
        return writeMaps(w, ctx)
    }

    static func writeMaps(_ w: StepWriter, _ ctx: ProbeContext) -> Bool {
        w.step("write /proc/self/setgroups deny") {
            // Absent on kernels before 3.19 and in some emulations: nothing to deny then.
            ProcFiles.exists("/proc/self/setgroups")
                ? .check(ProcFiles.write("/proc/self/setgroups", "deny"))
                : .skipped("/proc/self/setgroups does not exist")
        }
        && w.step("write /proc/self/uid_map") { .check(ProcFiles.write("/proc/self/uid_map", "0 \(ctx.uid) 1\n"), "0 \(ctx.uid) 1") }
        && w.step("write /proc/self/gid_map") { .check(ProcFiles.write("/proc/self/gid_map", "0 \(ctx.gid) 1\n"), "0 \(ctx.gid) 1") }
    }
}

