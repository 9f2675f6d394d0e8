import Glibc
import CNamespaceProbe

/// Probes one namespace kind: is the syscall reachable, does unshare succeed, is the
/// namespace really new, and can the probe act inside it.
public struct NamespaceProbe {
    public let kind: NamespaceKind
    /// Create a user namespace first (the rootless way).
    public let inUserNamespace: Bool

    public init(kind: NamespaceKind, inUserNamespace: Bool) {
        self.kind = kind
        self.inUserNamespace = inUserNamespace
    }

    public var jobID: String { "ns.\(kind.rawValue)\(inUserNamespace ? ".userns" : "")" }

    public func job(_ ctx: ProbeContext) -> ProbeJob {
        ProbeJob(id: jobID) { w in self.run(w, ctx) }
    }

    func run(_ w: StepWriter, _ ctx: ProbeContext) {
        // If even a no-op unshare fails, the syscall itself is filtered (seccomp) or missing.
        guard w.step("unshare(0)", { .check(cnp_unshare(0)) }) else { return w.verdict(.failed) }
        if inUserNamespace {
            guard UserNamespaceSetup.enter(w, ctx) else { return w.verdict(.failed) }
        }
        let action = NamespaceAction.for(kind)
        let before = NamespaceVerification.before(kind)
        let prepared = action.prepare(ctx)
        guard w.step("unshare(\(kind.flagName))", { .check(cnp_unshare(kind.cloneFlag)) }) else {
            return w.verdict(.failed)
        }
        let newness = action.verifiesInside ? .new
            : NamespaceVerification.verifyNew(kind, before: before, w)
        if newness == .notNew { return w.verdict(.failed) }
        if newness == .unverifiable && !action.actionProvesIsolation {
            // Acting here could change the parent's namespace (hostname, mounts): never do it
            // without proof that the namespace is ours.
            w.record("act inside", .skipped("not attempted: the namespace could not be proven new"))
            return w.verdict(.unverifiable, "unshare returned 0, but /proc/self/ns/\(kind.rawValue) cannot be read to prove a new namespace")
        }
        guard action.act(w, ctx, prepared) else { return w.verdict(.failed) }
        w.verdict(.ok, newness == .new ? "" : "no ns link; isolation proven by the action itself")
    }
}
