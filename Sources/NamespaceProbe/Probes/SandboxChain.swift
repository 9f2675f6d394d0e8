import Glibc
import CNamespaceProbe

/// The chain a rootless sandbox (bubblewrap's way) goes through for each tenant. Reports
/// the first step that fails; a refused fresh /proc is recorded and the chain goes on with
/// the container's /proc bound in, so both namespace backends get their evidence.
///
/// It runs first in the controls child (see ProcessControls), before anything has touched
/// that process: a process of its own would cost about 7 ms under gVisor.
public enum SandboxChainProbe {
    public static let freshProcStep = "mount fresh proc"
    public static let sharedProcStep = "bind container /proc (fresh proc refused)"
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
            guard UserNamespaceSetup.enter(rootless, ctx, &entry) else { rootless.verdict(.failed); return 0 }
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

    /// False when unshare() itself was refused.
    private static func attempt(_ w: StepWriter, _ ctx: ProbeContext) -> Bool {
        let flags = SandboxChainProbe.namespaces.reduce(UInt(0)) { $0 | $1.cloneFlag }
        guard w.step("unshare(CLONE_NEWPID|CLONE_NEWNS|CLONE_NEWNET|CLONE_NEWIPC|CLONE_NEWUTS)", { .check(cnp_unshare(flags)) }) else {
            w.verdict(.failed)
            return false
        }
        // The rest runs in PID 1 of the new pid namespace, which writes its own records.
        switch Subprocess.run({ insidePID1(w, ctx) }) {
        case .failure(let e):
            w.record("fork PID 1", .failed(e))
            w.verdict(.failed)
        case .success(let exit):
            Subprocess.die(like: exit)
        }
        return true
    }

    private static func insidePID1(_ w: StepWriter, _ ctx: ProbeContext) -> Int32 {
        let root = ctx.mountPoint
        let ok = w.step("fork PID 1") { getpid() == 1 ? .ok() : .failed(nil, "pid is \(getpid())") }
            // pivot_root moves the root of every process in the mount namespace that shares
            // the old one: PID 1 takes a namespace of its own, so the caller keeps its root.
            && w.step("unshare(CLONE_NEWNS) for PID 1 alone") { .check(cnp_unshare(NamespaceKind.mnt.cloneFlag)) }
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
