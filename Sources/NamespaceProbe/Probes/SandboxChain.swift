import Glibc
import CNamespaceProbe

/// The chain a rootless sandbox (bubblewrap's way) goes through for each tenant. Reports
/// the first step that fails; a refused fresh /proc is recorded and the chain goes on with
/// the container's /proc bound in, so both namespace backends get their evidence.
///
/// It runs first in the controls child (see ProcessControls), before anything has touched
/// that process: a process of its own would cost about 7 ms under gVisor.
public enum SandboxChainProbe {
    public static let freshProcStep = SandboxRoot.freshProcStep
    public static let sharedProcStep = SandboxRoot.sharedProcStep
    public static let namespaces: [NamespaceKind] = [.pid, .mnt, .net, .ipc, .uts]

    /// The name causes are explained under.
    public static let probeName = "chain"
    public static func section(_ mode: NamespaceProbe.Mode) -> String { "chain.\(mode.rawValue)" }
    static let sections = [section(.asIs), section(.inUserNamespace)]

    /// As is first, in the calling child; where unshare() is refused (nothing changed), the
    /// rootless way in a child of its own, since the user namespace would change the
    /// credentials of everything the caller probes afterwards.
    static func run(_ w: StepWriter, _ skip: Set<String>, _ ctx: ProbeContext) {
        let asIs = w.into(section(.asIs)), rootless = w.into(section(.inUserNamespace))
        if !skip.contains(asIs.section), attempt(asIs, ctx) {
            return rootless.verdict(.notRun, "not tried: unshare() as is succeeded")
        }
        guard !skip.contains(rootless.section) else { return }
        let run = Subprocess.run { () -> Int32 in
            var entry = SharedSteps()
            // The launcher's mapping: the tenant is an unprivileged uid inside, never root.
            let inside = TenantCredentials.insideUserNamespace(outerUID: ctx.uid, outerGID: ctx.gid)
            guard UserNamespaceSetup.enter(rootless, uid: ctx.uid, gid: ctx.gid, insideUID: inside.uid, insideGID: inside.gid, &entry) else {
                rootless.verdict(.failed); return 0
            }
            _ = attempt(rootless, ctx)
            return 0
        }
        switch run {
        case .failure(let e):
            rootless.record("fork", .failed(e))
            rootless.verdict(.failed)
        case .success(let exit):
            Subprocess.die(like: exit)
        }
    }

    /// Kinds the chain cannot do without: PID 1 and a root of its own.
    public static let requiredKinds: [NamespaceKind] = [.pid, .mnt]
    /// The fact naming the kinds the chain got (`pid,mnt,net,ipc,uts` when all of them).
    public static let kindsFact = "namespaces"

    /// False when unshare() of the required kinds was refused (nothing changed). Every kind
    /// at once first; where that is refused, the required kinds, then each other kind alone:
    /// a host that forbids some kinds (systemd RestrictNamespaces=, a seccomp filter per
    /// kind) still gets pid and mount isolation, and the selection names what is missing.
    private static func attempt(_ w: StepWriter, _ ctx: ProbeContext) -> Bool {
        var kinds = SandboxChainProbe.namespaces
        let all = kinds.reduce(UInt(0)) { $0 | $1.cloneFlag }
        var together = false
        w.step(SandboxRoot.unshareStepName(kinds)) {
            if cnp_unshare(all) == 0 { together = true; return .ok() }
            return .skipped("\(Errno.current.name): not every kind at once; the required kinds, then each other kind, alone below")
        }
        if !together {
            guard SandboxRoot.unshareNamespaces(requiredKinds, w) else {
                w.verdict(.failed)
                return false
            }
            kinds = requiredKinds
            for kind in SandboxChainProbe.namespaces where !requiredKinds.contains(kind) {
                w.step(SandboxRoot.unshareStepName([kind]) + " alone") {
                    if cnp_unshare(kind.cloneFlag) == 0 { kinds.append(kind); return .ok() }
                    return .skipped("\(Errno.current.name): refused here; tenants would share the container's \(kind.rawValue) namespace")
                }
            }
        }
        w.fact(kindsFact, kinds.map(\.rawValue).joined(separator: ","))
        // The rest runs in PID 1 of the new pid namespace, which writes its own records.
        let withNet = kinds.contains(.net)
        switch Subprocess.run({ insidePID1(w, ctx, network: withNet) }) {
        case .failure(let e):
            w.record("fork PID 1", .failed(e))
            w.verdict(.failed)
        case .success(let exit):
            Subprocess.die(like: exit)
        }
        return true
    }

    /// The launcher's own root-building steps (SandboxRoot), with a scratch workspace and
    /// the launcher's default system binds and devices; then loopback, as the launcher does
    /// for `--network none`.
    private static func insidePID1(_ w: StepWriter, _ ctx: ProbeContext, network: Bool) -> Int32 {
        let ok = w.step("fork PID 1") { getpid() == 1 ? .ok() : .failed(nil, "pid is \(getpid())") }
        guard ok else { w.verdict(.failed); return 0 }
        let plan = RootPlan(mountPoint: ctx.mountPoint, workspaceSource: ctx.workspace, workspaceTarget: ctx.workspace,
                            proc: .freshElseContainer, tmpBytes: 1 << 20, devShmBytes: 1 << 20)
        guard let proc = SandboxRoot.build(plan, w, witness: ctx.probePid) else { w.verdict(.failed); return 0 }
        // Without a network namespace of its own there is no loopback of its own to prove,
        // and bringing lo up would change the container's.
        let loopback = network ? Loopback.up(w) : { w.record("loopback carries a UDP datagram", .skipped("no network namespace of its own")); return true }()
        w.verdict(loopback && proc == .fresh ? .ok : .failed)
        return 0
    }
}
