import Glibc
import CNamespaceProbe

/// Probes one namespace kind in one child: is the syscall reachable, does unshare succeed
/// as is, is the namespace really new, can the probe act inside it. Where unshare() as is is
/// refused (nothing changed yet), the same child goes on the rootless way: a user namespace
/// first, then the same steps. Two results, one process.
public struct NamespaceProbe {
    public let kind: NamespaceKind
    public init(kind: NamespaceKind) { self.kind = kind }

    public static let asIs = "as_is"
    public static let inUserNamespace = "in_user_namespace"

    public var jobID: String { "ns.\(kind.rawValue)" }

    public func job(_ ctx: ProbeContext) -> ProbeJob {
        ProbeJob(id: jobID, firstSection: Self.asIs) { w in self.run(w, ctx) }
    }

    enum Attempt { case refused, entered(ok: Bool) }

    func run(_ w: StepWriter, _ ctx: ProbeContext) {
        w.section(Self.asIs)
        // If even a no-op unshare fails, the syscall itself is filtered (seccomp) or missing.
        var zero = StepResult.ok()
        w.step("unshare(0)") { zero = .check(cnp_unshare(0)); return zero }
        guard zero.isOK else {
            w.verdict(.failed)
            if kind != .user {
                w.section(Self.inUserNamespace)
                w.record("unshare(0)", zero)
                w.verdict(.failed)
            }
            return
        }
        let action = NamespaceAction.for(kind)
        let witness = action.prepare(ctx)
        let asIs = attempt(w, ctx, action, witness)
        guard kind != .user else { return }
        w.section(Self.inUserNamespace)
        switch asIs {
        case .refused:
            guard UserNamespaceSetup.enter(w, ctx) else { witness?.dismiss(); return w.verdict(.failed) }
            _ = attempt(w, ctx, action, witness)
        case .entered(let ok):
            w.verdict(.notRun, ok ? "not needed: works as is"
                : "not tried: unshare() as is succeeded, so the failure is past the point a user namespace changes")
        }
    }

    private func attempt(_ w: StepWriter, _ ctx: ProbeContext, _ action: NamespaceAction, _ witness: Witness?) -> Attempt {
        let before = NamespaceVerification.before(kind)
        guard w.step("unshare(\(kind.flagName))", { .check(cnp_unshare(kind.cloneFlag)) }) else {
            w.verdict(.failed)
            return .refused
        }
        let newness = action.verifiesInside ? .new : NamespaceVerification.verifyNew(kind, before: before, w)
        if newness == .notNew {
            witness?.dismiss()
            w.verdict(.failed)
            return .entered(ok: false)
        }
        if newness == .unverifiable && !action.actionProvesIsolation {
            // Acting here could change the parent's namespace (hostname, mounts): never do it
            // without proof that the namespace is ours.
            witness?.dismiss()
            w.record("act inside", .skipped("not attempted: the namespace could not be proven new"))
            w.verdict(.unverifiable, "unshare returned 0, but /proc/self/ns/\(kind.rawValue) cannot be read to prove a new namespace")
            return .entered(ok: false)
        }
        let ok = action.act(w, ctx, witness)
        w.verdict(ok ? .ok : .failed)
        return .entered(ok: ok)
    }
}
