import Glibc
import CNamespaceProbe
import NamespaceProbe

/// Processes: /proc, ptrace, signals, `kill(-1)`, a daemon left behind.
/// A17, A17.all and A18 are decided by the verifier from what it observes afterwards (A's
/// signal count, A still alive, the daemon gone); B reports what it did.
extension Battery {
    struct Sighting { var byName: [Int32] = []; var byArgv: [Int32] = []; var byEnv: [Int32] = [] }

    /// Every process this /proc shows that is A: by name, by argv token, by environment token.
    func findA() -> Sighting {
        var s = Sighting()
        let me = getpid()
        for pid in Sys.pids() where pid != me {
            if ProcFiles.line("/proc/\(pid)/comm") == c.processNameA { s.byName.append(pid) }
            if case .success(let t) = ProcFiles.read("/proc/\(pid)/cmdline", limit: 1 << 16), t.contains(c.argv) { s.byArgv.append(pid) }
            if case .success(let t) = ProcFiles.read("/proc/\(pid)/environ", limit: 1 << 16), t.contains(c.env) { s.byEnv.append(pid) }
        }
        return s
    }

    /// Pids to attack: A as this /proc shows it, and A's pid as the verifier sees it, unless
    /// that number is visibly another process here (in B's own pid namespace it could be B's).
    func targets(_ s: Sighting) -> [Int32] {
        var t = s.byName
        let other = ProcFiles.line("/proc/\(b.hostPidA)/comm").map { $0 != c.processNameA } ?? false
        if !t.contains(b.hostPidA) && !other && b.hostPidA > 1 && b.hostPidA != getpid() { t.append(b.hostPidA) }
        return t
    }

    func listProcesses(_ s: Sighting) -> Observation {
        if let pid = s.byName.first { return Observation("A12", .leaked, "/proc lists A: pid \(pid) is '\(c.processNameA)'") }
        return Observation("A12", .blocked, "\(Sys.pids().count) processes in /proc, none named '\(c.processNameA)'")
    }

    func cmdline(_ s: Sighting) -> Observation {
        if let pid = s.byArgv.first { return Observation("A13", .leaked, "/proc/\(pid)/cmdline holds '\(shown(c.argv))'") }
        return Observation("A13", .blocked, "no readable cmdline holds A's argv token")
    }

    func environ(_ s: Sighting) -> Observation {
        if let pid = s.byEnv.first { return Observation("A14", .leaked, "/proc/\(pid)/environ holds '\(shown(c.env))'") }
        let tried = s.byName.first.map { pid -> String in
            if case .failure(let e) = ProcFiles.read("/proc/\(pid)/environ") { return ": /proc/\(pid)/environ \(e.name)" }
            return ""
        } ?? ": A not visible"
        return Observation("A14", .blocked, "no readable environ holds A's secret" + tried)
    }

    func maps(_ s: Sighting) -> Observation {
        let pids = targets(s)
        guard !pids.isEmpty else { return Observation("A14.maps", .blocked, "A not visible in /proc") }
        var errors: [String] = []
        for pid in pids {
            switch ProcFiles.read("/proc/\(pid)/maps", limit: 4096) {
            case .success(let t) where !t.isEmpty:
                guard ProcFiles.line("/proc/\(pid)/comm") == c.processNameA else { continue }
                return Observation("A14.maps", .leaked, "read /proc/\(pid)/maps of A (\(t.split(separator: "\n").count)+ lines)")
            case .success: errors.append("/proc/\(pid)/maps empty")
            case .failure(let e): errors.append("/proc/\(pid)/maps \(e.name)")
            }
        }
        return Observation("A14.maps", .blocked, errors.joined(separator: ", "))
    }

    func ptraceA(_ s: Sighting) -> Observation {
        var errors: [String] = []
        for pid in targets(s) {
            if cnp_ptrace_seize(pid) == 0 {
                release(pid)
                return Observation("A16", .leaked, "PTRACE_SEIZE pid \(pid) (A) succeeded (detached again)")
            }
            errors.append("PTRACE_SEIZE \(pid): \(Errno.current.name)")
        }
        return Observation("A16", .blocked, errors.isEmpty ? "no pid of A to try" : errors.joined(separator: ", "))
    }

    /// PTRACE_DETACH needs a stopped tracee: interrupt, wait for the stop (1 s at most), detach.
    /// A tracee left attached would stop on its next signal until B exits.
    func release(_ pid: Int32) {
        _ = cnp_ptrace_interrupt(pid)
        var status: Int32 = 0
        let deadline = Clock.nowMicros() + 1_000_000
        while Clock.nowMicros() < deadline {
            if waitpid(pid, &status, WNOHANG | Int32(bitPattern: 0x4000_0000) /* __WALL */) == pid { break }
            usleep(1000)
        }
        _ = cnp_ptrace_detach(pid, 0)
    }

    func signalA(_ s: Sighting) -> Observation {
        signal(SIGUSR1, SIG_IGN)  // should a number be B's own process after all
        var sent: [String] = [], errors: [String] = []
        for pid in targets(s) {
            if kill(pid, SIGUSR1) == 0 { sent.append("kill(\(pid), SIGUSR1) returned 0") } else { errors.append("kill(\(pid), SIGUSR1): \(Errno.current.name)") }
        }
        // Decided by the verifier from A's own count of SIGUSR1.
        return Observation("A17", sent.isEmpty ? .blocked : .leaked, (sent + errors).joined(separator: ", "))
    }

    /// `kill(-1, SIGKILL)` reaches every process B may signal. It runs only where the launch
    /// plan guarantees that set is B's own (a pid namespace: kill(2) never leaves the caller's;
    /// or a per-tenant uid) AND B confirms it here. Namespace inodes alone are not proof: gVisor
    /// shows a different pid-namespace inode to every process of one namespace.
    func killAll() -> Observation {
        guard let confinement = b.killAllConfinedBy else {
            return Observation("A17.all", .notRun, "unsafe here: nothing in this launch confines kill(-1) to B (it would reach the server)")
        }
        let uid = getuid()
        switch confinement {
        case "pid namespace":
            let ns = (try? ProcFiles.namespaceInode("pid").get()).map { $0 != b.verifierPidNamespace } ?? true
            // The verifier's and A's pid numbers must not name a process outside B's session
            // here (B's own tree may reuse the numbers: B then checks its own session).
            let session = getsid(0)
            let outside = [b.verifierPid, b.hostPidA].filter { pid in
                pid != getpid() && (kill(pid, 0) == 0 || errno == EPERM) && getsid(pid) != session
            }
            guard ns && outside.isEmpty else {
                return Observation("A17.all", .notRun, "not run: pid \(outside.map(String.init).joined(separator: ", ")) is visible outside B's session: the pid namespace cannot be confirmed from inside")
            }
        case "per-tenant uid":
            guard uid != 0, uid != b.verifierUid, uid != a.uid, geteuid() == uid else {
                return Observation("A17.all", .leaked, "not run: the launch promised a per-tenant uid but B runs as uid \(uid) (verifier \(b.verifierUid), A \(a.uid))")
            }
            let session = getsid(0)
            for pid in Sys.pids() {
                guard let uids = Sys.status("Uid", pid: String(pid))?.split(whereSeparator: { $0 == "\t" || $0 == " " }),
                      uids.contains(where: { UInt32($0) == uid }), getsid(pid) != session else { continue }
                return Observation("A17.all", .leaked, "not run: pid \(pid), outside B's session, also runs as B's uid \(uid)")
            }
        default:
            return Observation("A17.all", .notRun, "unknown confinement '\(confinement)'")
        }
        let rc = kill(-1, SIGKILL)
        return Observation("A17.all", .blocked, "kill(-1, SIGKILL) \(rc == 0 ? "returned 0" : Errno.current.name) (\(confinement))")
    }

    /// A setsid double-forked daemon with a recognisable name and its own deadline (20 s),
    /// detached from B's stdio so it holds nothing of the verifier's.
    func daemon() -> Observation {
        var pipeFds: [Int32] = [0, 0]
        guard cnp_pipe2_cloexec(&pipeFds) == 0 else { return Observation("A18", .notRun, "pipe2: \(Errno.current.name)") }
        let name = c.processNameDaemon
        let child = fork()
        if child == 0 {
            setsid()
            let grandchild = fork()
            if grandchild == 0 {
                _ = name.withCString { cnp_prctl(PR_SET_NAME, UInt(bitPattern: $0), 0, 0, 0) }
                let null = open("/dev/null", O_RDWR)
                dup2(null, 0); dup2(null, 1); dup2(null, 2)
                close(pipeFds[0]); close(pipeFds[1])
                alarm(20)
                while true { pause() }
            }
            var pid = grandchild
            _ = withUnsafeBytes(of: &pid) { write(pipeFds[1], $0.baseAddress, 4) }
            _exit(grandchild > 0 ? 0 : 1)
        }
        close(pipeFds[1])
        var pid: Int32 = -1
        _ = withUnsafeMutableBytes(of: &pid) { read(pipeFds[0], $0.baseAddress, 4) }
        close(pipeFds[0])
        var status: Int32 = 0
        while child > 0 && waitpid(child, &status, 0) < 0 && errno == EINTR {}
        guard child > 0, pid > 0 else { return Observation("A18", .notRun, "fork: \(Errno.current.name)") }
        return Observation("A18", .blocked, "left daemon '\(name)' (pid \(pid) in B's view)")
    }
}
