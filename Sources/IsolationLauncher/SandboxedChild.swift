import Glibc
import CNamespaceProbe
import NamespaceProbe

/// What every process of a launch needs to know; built by the launcher before it forks.
struct ChildContext {
    let plan: LaunchPlan
    let request: LaunchRequest
    let area: TenantArea
    /// The tenant's kernel uid and gid under a per-tenant uid.
    let tenantIDs: (uid: uid_t, gid: gid_t)?
    let environment: [String]
    /// The write end of the record pipe (close-on-exec).
    let recordFD: Int32
    /// Signals the launcher blocked; children unblock them.
    let blocked: sigset_t
}

/// The launched side: the processes between the launcher and the command. Every step is a
/// shared isolation step (NamespaceProbe/Isolation) written to the record pipe; the first
/// that fails ends the process with 125 before the command runs.
enum SandboxedChild {
    static let section = "launch"

    /// The launcher's child. Namespace backends: it enters the user namespace (where needed)
    /// and the other namespaces, then forks PID 1 and waits for it. Other backends: it is
    /// the tenant's process itself.
    static func start(_ ctx: ChildContext) -> Never {
        resetSignals(ctx)
        let w = StepWriter(fd: ctx.recordFD, section: section)
        guard ctx.plan.usesNamespaces else { tenant(ctx, w) }
        guard ProcessHygiene.newSession(w) else { Subprocess.exit(125) }
        if ctx.plan.userNamespace {
            if let ids = ctx.tenantIDs {
                // The tenant's own kernel uid, then a user namespace it may create itself; a
                // uid change makes the process non-dumpable, which would leave its
                // /proc/self/uid_map owned by root.
                guard TenantCredentials.switchTo(uid: ids.uid, gid: ids.gid, w),
                      w.step("prctl(PR_SET_DUMPABLE, 1)", { .check(cnp_prctl(cnp_PR_SET_DUMPABLE, 1, 0, 0, 0)) }) else { Subprocess.exit(125) }
            }
            let inside = TenantCredentials.insideUserNamespace(outerUID: geteuid(), outerGID: getegid())
            guard UserNamespaceSetup.enter(w, uid: geteuid(), gid: getegid(), insideUID: inside.uid, insideGID: inside.gid) else {
                Subprocess.exit(125)
            }
        }
        guard unshareNamespaces(ctx, w) else { Subprocess.exit(125) }
        let pid1 = Subprocess.fork()
        if pid1 == 0 { Subprocess.exit(initProcess(ctx, w)) }
        guard pid1 > 0 else {
            w.record("fork PID 1", .failed(.current))
            Subprocess.exit(125)
        }
        w.fact("pid1", String(pid1))
        StepWriter.flush()
        close(ctx.recordFD)
        switch Subprocess.wait(pid1) {
        case .exited(let code): _exit(code)
        case .signaled(let sig): _exit(128 + sig)
        case .timedOut: _exit(125)
        }
    }

    /// Whether the launcher itself may unshare (and fork PID 1 directly, one process fewer):
    /// only when no user namespace is needed, so its credentials never change.
    static func launcherUnshares(_ plan: LaunchPlan) -> Bool { plan.usesNamespaces && !plan.userNamespace }

    /// The plan's kinds in one unshare(2), the order the probe's chain uses.
    static func unshareNamespaces(_ ctx: ChildContext, _ w: StepWriter) -> Bool {
        let order: [NamespaceKind] = [.pid, .mnt, .net, .ipc, .uts]
        return SandboxRoot.unshareNamespaces(order.filter(ctx.plan.namespaces.contains), w)
    }

    /// PID 1 of the tenant's pid namespace: builds the root, brings up loopback, forks the
    /// tenant, then reaps every orphan and forwards SIGTERM, SIGINT and SIGHUP to the
    /// tenant's process group until the tenant exits; its exit ends the namespace.
    static func initProcess(_ ctx: ChildContext, _ w: StepWriter) -> Int32 {
        resetSignals(ctx)
        guard w.step("fork PID 1", { getpid() == 1 ? .ok() : .failed(nil, "pid is \(getpid())") }),
              ProcessHygiene.newSession(w) else { return 125 }
        let root = RootPlan(mountPoint: rootMountPoint(), workspaceSource: ctx.area.workspace, workspaceTarget: ctx.area.workspace,
                            proc: ctx.plan.proc, extraReadOnly: ctx.request.readOnlyBinds)
        guard SandboxRoot.build(root, w, expectedWorkspace: ctx.area.identity) != nil else { return 125 }
        if ctx.plan.network == .none { guard Loopback.up(w) else { return 125 } }
        // PID 1 gets only the signals it has a handler for (pid_namespaces(7)): a handler
        // that does nothing, the signals blocked, and read from a signalfd.
        let forwarded: [Int32] = [SIGTERM, SIGINT, SIGHUP, SIGQUIT]
        for sig in forwarded { signal(sig, { _ in }) }
        var mask = sigset_t()
        let sfd = (forwarded + [SIGCHLD]).withUnsafeBufferPointer { cnp_signalfd_for($0.baseAddress, Int32($0.count), &mask) }
        guard sfd >= 0 else { w.record("signalfd in PID 1", .failed(.current)); return 125 }
        let tenantPID = Subprocess.fork()
        if tenantPID == 0 {
            close(sfd)
            for sig in forwarded { signal(sig, SIG_DFL) }
            _ = cnp_unblock_signals(&mask)
            tenant(ctx, w)
        }
        guard tenantPID > 0 else { w.record("fork the command", .failed(.current)); return 125 }
        close(ctx.recordFD)
        while true {
            var sig: Int32 = 0, from: Int32 = 0
            if cnp_signalfd_read(sfd, &sig, &from) != 0 { if errno == EINTR { continue }; return 125 }
            if sig == SIGCHLD {
                var status: Int32 = 0
                while true {
                    let pid = waitpid(-1, &status, WNOHANG)
                    if pid <= 0 { break }
                    if pid == tenantPID {
                        let exit = ChildExitCode.of(status)
                        return exit
                    }
                }
            } else {
                if kill(-tenantPID, sig) != 0 { _ = kill(tenantPID, sig) }
            }
        }
    }

    /// The tenant's own process: session, credentials, limits, descriptors, no_new_privs,
    /// capabilities, Landlock, seccomp, in that order (each needs the rights the one before
    /// leaves), then execve.
    static func tenant(_ ctx: ChildContext, _ w: StepWriter) -> Never {
        let plan = ctx.plan
        guard ProcessHygiene.newSession(w) else { Subprocess.exit(125) }
        if let ids = ctx.tenantIDs, !plan.userNamespace {
            guard TenantCredentials.switchTo(uid: ids.uid, gid: ids.gid, w) else { Subprocess.exit(125) }
        }
        // A credential change clears the parent-death signal: set it again.
        _ = cnp_prctl(PR_SET_PDEATHSIG, UInt(SIGKILL), 0, 0, 0)
        let ok = ProcessHygiene.setLimits(ctx.request.limits, w)
            && w.step("chdir \(ctx.area.workspace)") { .check(chdir(ctx.area.workspace)) }
            && ProcessHygiene.closeInheritedDescriptors(w)
            && ProcessHygiene.noNewPrivileges(w)
            && TenantCredentials.dropCapabilities(w)
            && (plan.landlockABI.map { LandlockRuleset.apply(landlockRules(ctx), abi: $0, w) } ?? true)
            && (!plan.seccompFilter || TenantSeccompFilter.install(w))
        guard ok else { Subprocess.exit(125) }
        CommandExec.exec(ctx.request.command, env: ctx.environment, path: TenantEnvironment.path, w)
    }

    /// Outside a mount namespace: the system directories and the tenant's area. Inside one,
    /// the root holds nothing but those already, so all of it may be read and executed, and
    /// Landlock keeps writes to the workspace, /tmp and /dev/shm.
    static func landlockRules(_ ctx: ChildContext) -> LandlockRules {
        var rules = LandlockRules.tenant(area: [ctx.area.workspace], extraReadOnly: ctx.request.readOnlyBinds,
                                         tcpConnectPorts: ctx.request.tcpConnectPorts)
        if ctx.plan.usesNamespaces {
            rules.readExecute = ["/"]
            rules.readWrite += ["/tmp", "/dev/shm"]
            rules.restrictTCP = ctx.plan.network == .shared
        }
        return rules
    }

    /// An existing directory to mount the new root on: private to the new mount namespace,
    /// so whatever it holds outside is untouched (binds come from descriptors, not paths).
    static func rootMountPoint() -> String {
        for dir in ["/tmp", "/mnt", "/run", "/var/tmp", "/dev"] where access(dir, F_OK) == 0 { return dir }
        return "/tmp"
    }

    /// Default dispositions and an empty signal mask: the server may ignore SIGPIPE or SIGINT,
    /// and ignored signals stay ignored across execve.
    static func resetSignals(_ ctx: ChildContext) {
        for sig in 1...31 where sig != SIGKILL && sig != SIGSTOP { signal(Int32(sig), SIG_DFL) }
        var blocked = ctx.blocked
        _ = cnp_unblock_signals(&blocked)
    }
}

/// The shell's convention for a wait status: the exit code, or 128 + the signal.
enum ChildExitCode {
    static func of(_ status: Int32) -> Int32 {
        cnp_wifsignaled(status) != 0 ? 128 + cnp_wtermsig(status) : cnp_wexitstatus(status)
    }
}
