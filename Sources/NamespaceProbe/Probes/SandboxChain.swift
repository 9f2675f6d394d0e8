import Glibc
import CNamespaceProbe

/// The chain a rootless sandbox (bubblewrap's way) goes through for each tenant. Reports
/// the first step that fails; a refused fresh /proc is recorded and the chain goes on with
/// the container's /proc bound in, so both namespace backends get their evidence.
public struct SandboxChainProbe {
    public init() {}

    public static let freshProcStep = "mount fresh proc"
    public static let sharedProcStep = "bind container /proc (fresh proc refused)"
    public static let namespaces: [NamespaceKind] = [.pid, .mnt, .net, .ipc, .uts]

    public static let jobID = "chain"
    public static func section(_ mode: NamespaceProbe.Mode) -> String { "chain.\(mode.rawValue)" }

    public func job(_ ctx: ProbeContext) -> ProbeJob {
        let sections = [Self.section(.asIs), Self.section(.inUserNamespace)]
        return ProbeJob(id: Self.jobID, sections: sections) { w, skip in self.run(w, skip, ctx) }
    }

    /// As is first; where unshare() is refused (nothing changed), the same child goes on
    /// the rootless way.
    func run(_ w: StepWriter, _ skip: Set<String>, _ ctx: ProbeContext) {
        let asIs = w.into(Self.section(.asIs)), rootless = w.into(Self.section(.inUserNamespace))
        if !skip.contains(asIs.section), attempt(asIs, ctx) {
            return rootless.verdict(.notRun, "not tried: unshare() as is succeeded")
        }
        var entry = SharedSteps()
        guard UserNamespaceSetup.enter(rootless, ctx, &entry) else { return rootless.verdict(.failed) }
        _ = attempt(rootless, ctx)
    }

    /// False when unshare() itself was refused.
    private func attempt(_ w: StepWriter, _ ctx: ProbeContext) -> Bool {
        let flags = SandboxChainProbe.namespaces.reduce(UInt(0)) { $0 | $1.cloneFlag }
        guard w.step("unshare(CLONE_NEWPID|CLONE_NEWNS|CLONE_NEWNET|CLONE_NEWIPC|CLONE_NEWUTS)", { .check(cnp_unshare(flags)) }) else {
            w.verdict(.failed)
            return false
        }
        // The rest runs in PID 1 of the new pid namespace, which writes its own records.
        let run = Subprocess.run { insidePID1(w, ctx) }
        switch run {
        case .failure(let e):
            w.record("fork PID 1", .failed(e))
            w.verdict(.failed)
        case .success(.signaled(let sig)):
            // Die the same way, so the parent sees the signal against the grandchild's step.
            signal(sig, SIG_DFL)
            raise(sig)
        case .success:
            break
        }
        return true
    }

    private func insidePID1(_ w: StepWriter, _ ctx: ProbeContext) -> Int32 {
        let root = ctx.mountPoint
        let ok = w.step("fork PID 1") { getpid() == 1 ? .ok() : .failed(nil, "pid is \(getpid())") }
            && w.step("make / private (MS_REC|MS_PRIVATE)") { .check(mount(nil, "/", nil, UInt(MS_REC | MS_PRIVATE), nil)) }
            && w.step("mount tmpfs as new root") { .check(mount("namespace-probe", root, "tmpfs", 0, "size=64k,mode=0755")) }
            && w.step("parent does not see the new root") { parentDoesNotSee(root, ctx) }
            && w.step("create mount points") {
                for dir in ["workspace", "proc", "oldroot"] where mkdir(root + "/" + dir, 0o755) != 0 {
                    return .failed(.current, "mkdir \(dir)")
                }
                return .ok()
            }
            && w.step("bind workspace") { .check(mount(ctx.workspace, root + "/workspace", nil, UInt(MS_BIND | MS_REC), nil)) }
        guard ok else { w.verdict(.failed); return 0 }

        let fresh = w.step(SandboxChainProbe.freshProcStep) {
            .check(mount("proc", root + "/proc", "proc", UInt(MS_NOSUID | MS_NODEV | MS_NOEXEC), nil))
        }
        if !fresh {
            guard w.step(SandboxChainProbe.sharedProcStep, {
                .check(mount("/proc", root + "/proc", nil, UInt(MS_BIND | MS_REC), nil))
            }) else { w.verdict(.failed); return 0 }
        }
        let rest = w.step("pivot_root") {
            guard cnp_pivot_root(root, root + "/oldroot") == 0 else { return .failed(.current) }
            return .check(chdir("/"), "chdir /")
        }
            && w.step("detach old root") { .check(umount2("/oldroot", Int32(MNT_DETACH))) }
            && Loopback.up(w)
        w.verdict(rest && fresh ? .ok : .failed)
        return 0
    }
}
