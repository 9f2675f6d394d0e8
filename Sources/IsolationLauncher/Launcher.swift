import Glibc
import CNamespaceProbe
import NamespaceProbe
import IsolationSelector

/// How a launch ended.
public struct LaunchResult {
    /// The command's status (128+N for signal N), or 124 (time limit), 125, 126, 127.
    public var exitCode: Int32
    public var status: LaunchStatus
    /// For stderr: why the launcher itself failed, when it did.
    public var message: String?
}

/// `probe launch`: prepares the tenant's area, forks the sandboxed child, supervises it
/// (deadline, forwarded signals, records), and ends the tenant's whole process tree.
/// Single-threaded: call it before anything starts a thread (user namespaces refuse
/// multi-threaded callers).
public enum Launcher {
    public static let timeLimitExit: Int32 = 124

    public static func run(_ request: LaunchRequest, plan: LaunchPlan, facts: VerifiedFacts,
                           inherited: [String: String]) -> LaunchResult {
        let start = Clock.nowMicros()
        var status = LaunchStatus(request: request, plan: plan, facts: facts)
        func refused(_ r: LaunchRefusal) -> LaunchResult {
            status.refusal(r)
            status.totalMicros = Clock.nowMicros() - start
            return LaunchResult(exitCode: 125, status: status, message: r.description)
        }

        // 1. The tenant's area and uid, in the launcher (nothing runs yet).
        let tenantIDs: (uid: uid_t, gid: gid_t)?
        let area: TenantArea
        do {
            var ids: (uid: uid_t, gid: gid_t)?
            area = try TenantArea.prepare(root: request.workspaceRoot, tenant: request.tenant) { rootFD in
                guard plan.perTenantUID else { return nil }
                let uid = try TenantUIDRegistry(range: request.uidRange).uid(for: request.tenant, rootFD: rootFD, rootPath: request.workspaceRoot)
                ids = (uid, uid)
                return ids
            }
            tenantIDs = ids
        } catch let r as LaunchRefusal {
            return refused(r)
        } catch {
            return refused(.usage("\(error)"))
        }
        defer { close(area.rootFD) }
        status.area(area, tenantIDs: tenantIDs)
        let sweep = tenantIDs != nil && !plan.usesNamespaces ? TenantSweep.begin(rootFD: area.rootFD, tenant: request.tenant) : nil
        let environment: [String]
        do {
            environment = try TenantEnvironment.build(tenant: request.tenant, home: area.home,
                                                      tmpdir: plan.usesNamespaces ? "/tmp" : area.tmp, pwd: area.workspace,
                                                      requested: request.env, inherited: inherited)
        } catch let r as LaunchRefusal {
            return refused(r)
        } catch {
            return refused(.usage("\(error)"))
        }

        // 2. The record pipe, signals through a signalfd, subreaper for orphans.
        var fds: [Int32] = [-1, -1]
        guard cnp_pipe2_cloexec(&fds) == 0 else { return refused(.isolation(step: "pipe2", errno: Errno.current.name, cause: "out of descriptors")) }
        var mask = sigset_t()
        let signals: [Int32] = [SIGCHLD, SIGTERM, SIGINT, SIGHUP, SIGQUIT]
        let sfd = signals.withUnsafeBufferPointer { cnp_signalfd_for($0.baseAddress, Int32($0.count), &mask) }
        guard sfd >= 0 else { return refused(.isolation(step: "signalfd", errno: Errno.current.name, cause: "cannot take signals")) }
        defer { close(sfd); _ = cnp_unblock_signals(&mask) }
        _ = cnp_prctl(cnp_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)

        let ctx = ChildContext(plan: plan, request: request, area: area, tenantIDs: tenantIDs, environment: environment,
                               recordFD: fds[1], blocked: mask)
        var child: pid_t
        if SandboxedChild.launcherUnshares(plan) {
            // The launcher enters the namespaces itself and its child is PID 1.
            let w = StepWriter(fd: fds[1], section: SandboxedChild.section)
            if SandboxedChild.unshareNamespaces(ctx, w) {
                child = Subprocess.fork()
                if child == 0 {
                    close(fds[0])
                    close(sfd)
                    Subprocess.exit(SandboxedChild.initProcess(ctx, w))
                }
            } else {
                StepWriter.flush()
                child = 0
            }
        } else {
            child = Subprocess.fork()
            if child == 0 {
                close(fds[0])
                close(sfd)
                SandboxedChild.start(ctx)
            }
        }
        close(fds[1])
        if child == 0 {
            // unshare was refused: the records say why, and nothing was forked.
            var records = RecordStream()
            var buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                let n = buffer.withUnsafeMutableBytes { read(fds[0], $0.baseAddress, $0.count) }
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { break }
                records.append(buffer[0..<n])
            }
            close(fds[0])
            let failed = records.sections[SandboxedChild.section]?.steps.last { $0.outcome == .failed }
            status.steps = records.sections[SandboxedChild.section]?.steps ?? []
            let step = failed ?? Step(name: "unshare", outcome: .failed)
            return refused(.isolation(step: step.name, errno: step.errno?.name, cause: LaunchCauses.cause(step: step, plan: plan)))
        }
        guard child > 0 else {
            close(fds[0])
            return refused(.isolation(step: "fork", errno: Errno.current.name, cause: "no process could be made (RLIMIT_NPROC or memory)"))
        }

        // 3. Supervise until the child has exited and every writer closed the pipe.
        var supervisor = Supervisor(child: child, recordFD: fds[0], signalFD: sfd, namespaced: plan.usesNamespaces,
                                    deadline: request.timeLimitMillis.map { start + Int64($0) * 1000 })
        supervisor.run()
        DescendantReaper.killAll()
        var swept: [Step] = []
        if let sweep, let ids = tenantIDs { swept.append(sweep.end(uid: ids.uid, gid: ids.gid)) }

        // 4. What happened. The sweep comes after the command: its failure is said, and the
        // command's status stands.
        let steps = supervisor.records.sections[SandboxedChild.section]?.steps ?? []
        status.steps = steps + swept
        status.totalMicros = Clock.nowMicros() - start
        var result = LaunchResult(exitCode: supervisor.exitCode ?? 125, status: status, message: nil)
        if let failed = steps.first(where: { $0.outcome == .failed }) {
            if failed.name.hasPrefix(CommandExec.stepPrefix) {
                result.exitCode = failed.errno == .ENOENT || failed.errno?.rawValue == ENOTDIR ? 127 : 126
                result.message = "\(request.command[0]): \(failed.detail ?? "") (\(failed.errno?.name ?? "?"))"
                result.status.commandStarted = false
            } else {
                let cause = LaunchCauses.cause(step: failed, plan: plan)
                result.exitCode = 125
                result.message = LaunchRefusal.isolation(step: failed.name, errno: failed.errno?.name, cause: cause).description
                result.status.failure(step: failed.name, errno: failed.errno?.name, cause: cause)
            }
        } else if let open = supervisor.records.unfinished, open.name.hasPrefix(CommandExec.stepPrefix) {
            result.status.commandStarted = true
            result.status.setupMicros = supervisor.setupDoneMicros.map { $0 - start }
            if supervisor.timedOut {
                result.exitCode = timeLimitExit
                result.message = "time limit of \(Double(request.timeLimitMillis ?? 0) / 1000) s reached: the tenant's processes were killed"
            }
        } else {
            // The child died before the command started without recording a failure: a
            // signal (a seccomp filter's SIGSYS) or the deadline, inside the step left open.
            let step = supervisor.records.unfinished?.name ?? "start of the sandboxed child"
            let why = supervisor.timedOut ? "the time limit was reached before the command started"
                : supervisor.childSignal.map { "the launcher's child was killed by \(SignalName.name($0))\($0 == 31 ? " (a seccomp filter of this container kills this syscall)" : "")" }
                ?? "the launcher's child exited with \(supervisor.exitCode.map(String.init) ?? "?") before the command started"
            result.exitCode = 125
            result.message = LaunchRefusal.isolation(step: step, errno: nil, cause: why).description
            result.status.failure(step: step, errno: nil, cause: why)
        }
        if let bad = swept.first(where: { $0.outcome == .failed }) {
            result.message = (result.message.map { $0 + "; " } ?? "") + "\(bad.name) failed: \(bad.detail ?? ""); processes of the tenant may be left"
        }
        result.status.exitStatus = result.exitCode
        return result
    }
}
