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
    /// What the probe process holds outside, for proofs that a child left its namespaces.
    public var witness = OutsideWitness.none

    public init(uid: uid_t, gid: gid_t, probePid: pid_t, scratch: String) {
        self.uid = uid
        self.gid = gid
        self.probePid = probePid
        self.scratch = scratch
    }
}

/// Entering a user namespace the way an unprivileged launcher does: unshare, deny
/// setgroups (required before gid_map), map our uid and gid to one id inside (root for the
/// probe's own passes; the launcher maps to the tenant's unprivileged uid).
public enum UserNamespaceSetup {
    /// The launcher's entry: the same steps, nothing replayed. user_namespaces(7): a process
    /// without CAP_SETUID in the parent namespace may map only its own euid, one line.
    public static func enter(_ w: StepWriter, uid: uid_t, gid: gid_t, insideUID: uid_t, insideGID: gid_t) -> Bool {
        var log = SharedSteps()
        return enter(w, uid: uid, gid: gid, insideUID: insideUID, insideGID: insideGID, &log)
    }

    static func enter(_ w: StepWriter, _ ctx: ProbeContext, _ log: inout SharedSteps) -> Bool {
        enter(w, uid: ctx.uid, gid: ctx.gid, insideUID: 0, insideGID: 0, witness: ctx.witness, &log)
    }

    /// True once the process is in a new user namespace with its maps written. The steps go
    /// to `w` and into `log`, to be replayed in the results that depend on them.
    /// `witness`: the probe process's links, the control for the inode proof (none in the
    /// launcher, where the uid_map write is the proof).
    static func enter(_ w: StepWriter, uid: uid_t, gid: gid_t, insideUID: uid_t, insideGID: gid_t,
                      witness: OutsideWitness = .none, _ log: inout SharedSteps) -> Bool {
        let before = ProcFiles.namespaceInode("user")
        guard log.step(w, "unshare(CLONE_NEWUSER)", { .check(cnp_unshare(NamespaceKind.user.cloneFlag)) }) else { return false }
        let name = NamespaceVerification.stepName(.user)
        // A uid_map can be written once per namespace, and the initial one already has its
        // map: where the link proves nothing, the write is the proof.
        let control = LinkControl.check(.user, here: before, witness)
        switch (control, ProcFiles.namespaceInode("user")) {
        case (.evidence(let a), .success(let b)) where a != b:
            log.record(w, name, .ok("inode \(a) -> \(b); control: the probe process reads \(a) too"))
        case (.evidence(let a), .success):
            // gVisor keeps the caller's own link stale.
            log.record(w, name, .skipped("the caller's link still shows inode \(a); the uid_map write below is the proof"))
        case (.evidence, .failure(let e)):
            log.record(w, name, .skipped("/proc/self/ns/user cannot be read after unshare (\(e.name)); the uid_map write below is the proof"))
        default:
            log.record(w, name, .skipped("\(control.why(.user)); the uid_map write below is the proof"))
        }
        return log.step(w, "write /proc/self/setgroups deny") {
            // Absent on kernels before 3.19 and in some emulations: nothing to deny then.
            ProcFiles.exists("/proc/self/setgroups")
                ? .check(ProcFiles.write("/proc/self/setgroups", "deny"))
                : .skipped("/proc/self/setgroups does not exist")
        }
        && log.step(w, "write /proc/self/uid_map") {
            .check(ProcFiles.write("/proc/self/uid_map", "\(insideUID) \(uid) 1\n"), "\(insideUID) \(uid) 1")
        }
        && log.step(w, "write /proc/self/gid_map") {
            .check(ProcFiles.write("/proc/self/gid_map", "\(insideGID) \(gid) 1\n"), "\(insideGID) \(gid) 1")
        }
    }
}
