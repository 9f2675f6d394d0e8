import Glibc
import CNamespaceProbe

/// Probes every namespace kind in one child: a fork costs about 0.3 ms of CPU on Linux and
/// 6 ms under gVisor, and a kind's result does not depend on the kinds unshared before it.
/// Each pass takes three steps per kind: unshare it (a refusal changes nothing), prove the
/// namespace new, act in it. The user namespace comes last, since it changes credentials;
/// inside it the rootless pass retries every kind refused as is.
public enum NamespaceProbe {
    public enum Mode: String { case asIs = "as_is", inUserNamespace = "in_user_namespace" }

    public static let jobID = "namespaces"
    /// unshare(0): if even a no-op unshare fails, the syscall is filtered or missing for all.
    public static let preamble = "ns.preamble"
    /// The kinds tried in each pass, before the user namespace.
    static let passKinds: [NamespaceKind] = [.ipc, .uts, .cgroup, .net, .mnt, .pid, .time]

    public static func section(_ kind: NamespaceKind, _ mode: Mode) -> String { "ns.\(kind.rawValue).\(mode.rawValue)" }

    static let sections = [preamble] + passKinds.map { section($0, .asIs) } + [section(.user, .asIs)]
        + passKinds.map { section($0, .inUserNamespace) }

    public static func job(_ ctx: ProbeContext) -> ProbeJob {
        ProbeJob(id: jobID, sections: sections, preamble: preamble) { w, skip in run(w, skip, ctx) }
    }

    /// `skip`: results an earlier child already wrote (this child replaces one cut by a signal).
    static func run(_ w: StepWriter, _ skip: Set<String>, _ ctx: ProbeContext) {
        var shared = SharedSteps()
        let zero = shared.step(w.into(preamble), "unshare(0)") { .check(cnp_unshare(0)) }
        w.into(preamble).verdict(zero ? .ok : .failed)
        guard zero else {
            for s in sections where s != preamble && !skip.contains(s) {
                shared.replay(into: w.into(s))
                w.into(s).verdict(.failed)
            }
            return
        }

        let asIs = NamespacePass(mode: .asIs, shared: shared, ctx: ctx)
        let refused = asIs.run(w, passKinds.filter { !skip.contains(section($0, .asIs)) })

        var entry = shared
        var inUserNamespace = false
        if !skip.contains(section(.user, .asIs)) {
            inUserNamespace = userAsIs(w.into(section(.user, .asIs)), ctx, &entry)
        }
        // Rootless: the kinds refused as is, here or in the child this one replaces.
        let rootless = passKinds.filter {
            !skip.contains(section($0, .inUserNamespace)) && (refused.contains($0) || skip.contains(section($0, .asIs)))
        }
        guard !rootless.isEmpty else { return }
        if skip.contains(section(.user, .asIs)) {
            // This child replaces one cut short: enter the user namespace here, as a step
            // every rootless result depends on (a kill here ends them all).
            inUserNamespace = UserNamespaceSetup.enter(w.into(preamble), ctx, &entry)
        }
        guard inUserNamespace else {
            for kind in rootless {
                let s = w.into(section(kind, .inUserNamespace))
                entry.replay(into: s)
                s.verdict(.failed)
            }
            return
        }
        _ = NamespacePass(mode: .inUserNamespace, shared: entry, ctx: ctx).run(w, rootless)
    }

    /// The user namespace as is: entered, mapped, and root with CAP_SYS_ADMIN inside.
    private static func userAsIs(_ w: StepWriter, _ ctx: ProbeContext, _ entry: inout SharedSteps) -> Bool {
        entry.replay(into: w)
        let entered = UserNamespaceSetup.enter(w, ctx, &entry)
        let ok = entered && w.step("uid 0 with CAP_SYS_ADMIN inside") {
            let sets: (effective: UInt64, permitted: UInt64, inheritable: UInt64)
            switch CapabilitySets.capget() {
            case .success(let read): sets = read
            case .failure(let e): return .failed(e, "capget")
            }
            let hasAdmin = sets.effective & (1 << UInt64(CapabilitySets.sysAdmin)) != 0
            return getuid() == 0 && hasAdmin ? .ok("uid 0, CAP_SYS_ADMIN effective")
                : .failed(nil, "uid \(getuid()), CAP_SYS_ADMIN \(hasAdmin ? "held" : "missing")")
        }
        w.verdict(ok ? .ok : .failed)
        return entered
    }
}

/// One pass over the kinds in one mode. Every result starts with the steps it depends on.
struct NamespacePass {
    let mode: NamespaceProbe.Mode
    let shared: SharedSteps
    let ctx: ProbeContext

    /// Writes each kind's result; returns the kinds whose unshare() was refused.
    func run(_ w: StepWriter, _ kinds: [NamespaceKind]) -> [NamespaceKind] {
        var refused: [NamespaceKind] = []
        var entered: [NamespaceVerification.Entered] = []
        for kind in kinds {
            let s = w.into(NamespaceProbe.section(kind, mode))
            shared.replay(into: s)
            let before = NamespaceVerification.before(kind, ctx)
            guard s.step("unshare(\(kind.flagName))", { .check(cnp_unshare(kind.cloneFlag)) }) else {
                s.verdict(.failed)
                refused.append(kind)
                continue
            }
            // Offsets are accepted only before the first process enters the namespace.
            if kind == .time, !s.step("write /proc/self/timens_offsets", {
                .check(ProcFiles.write("/proc/self/timens_offsets", "monotonic \(NamespaceVerification.timeOffset) 0\n"))
            }) {
                conclude(kind, s, ok: false)
                continue
            }
            entered.append(.init(kind: kind, writer: s, before: (before.inode, before.rootMount), control: before.control))
        }
        // Acting in the namespaces the caller's links proved overlaps the first child; the
        // kinds that ask the probe process come last, when it is waiting for records.
        var settled = Set<NamespaceKind>()
        let proofs = NamespaceVerification.prove(entered, ctx) { proven in
            for e in proven.sorted(by: { Self.actOrder.firstIndex(of: $0.kind)! < Self.actOrder.firstIndex(of: $1.kind)! }) {
                settle(e, .new)
                settled.insert(e.kind)
            }
        }
        for e in entered where !settled.contains(e.kind) { settle(e, proofs[e.kind] ?? .notNew) }
        return refused
    }

    static let actOrder: [NamespaceKind] = [.net, .mnt, .cgroup, .ipc, .uts, .pid, .time, .user]

    private func settle(_ e: NamespaceVerification.Entered, _ newness: NamespaceVerification.Newness) {
        let s = e.writer
        switch newness {
        case .notNew:
            conclude(e.kind, s, ok: false)
        case .new where e.kind == .pid || e.kind == .time:
            conclude(e.kind, s, ok: true)  // the first child showed PID 1 / the offset
        case .unverifiable:
            // Acting could change the parent's namespace (hostname, mounts): never
            // without proof that the namespace is ours.
            s.record("act inside", .skipped("not attempted: the namespace could not be proven new"))
            s.verdict(.unverifiable, e.control.why(e.kind))
            notNeededRootless(e.kind, s, ok: false)
        case .new:
            conclude(e.kind, s, ok: NamespaceAction.act(e.kind, s, ctx))
        }
    }

    private func conclude(_ kind: NamespaceKind, _ s: StepWriter, ok: Bool) {
        s.verdict(ok ? .ok : .failed)
        notNeededRootless(kind, s, ok: ok)
    }

    /// unshare() as is worked: no rootless attempt for this kind.
    private func notNeededRootless(_ kind: NamespaceKind, _ s: StepWriter, ok: Bool) {
        guard mode == .asIs else { return }
        s.into(NamespaceProbe.section(kind, .inUserNamespace)).verdict(.notRun, ok ? "not needed: works as is"
            : "not tried: unshare() as is succeeded, so the failure is past the point a user namespace changes")
    }
}
