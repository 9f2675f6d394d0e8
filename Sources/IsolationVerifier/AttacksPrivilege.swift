import Glibc
import CNamespaceProbe
import NamespaceProbe

/// Privilege, the launcher's duties, resources. Mechanisms are checked, not only outcomes:
/// NoNewPrivs, CapEff, Seccomp as the kernel reports them in /proc/self/status.
extension Battery {
    /// Descriptors above 2 that B did not open: listed before B opens anything.
    static func inheritedDescriptors() -> [String] {
        (3..<1024).compactMap { fd -> String? in
            guard fcntl(Int32(fd), F_GETFD) >= 0 else { return nil }
            let target = (try? ProcFiles.readLink("/proc/self/fd/\(fd)").get()) ?? "?"
            return "fd \(fd) -> \(target)"
        }
    }

    func descriptors(_ inherited: [String]) -> Observation {
        inherited.isEmpty ? Observation("A27", .blocked, "no descriptor above 2 at start")
            : Observation("A27", .leaked, "inherited " + inherited.prefix(4).joined(separator: ", "))
    }

    func environment() -> Observation {
        var found: [String] = []
        var names: [String] = []
        var p = Glibc.environ
        while let entry = p.pointee {
            let s = String(cString: entry)
            names.append(String(s.prefix { $0 != "=" }))
            if s.contains(c.serverEnv) { found.append("the server's secret in \(names.last!)") }
            if s.contains(c.env) { found.append("A's secret in \(names.last!)") }
            p += 1
        }
        return found.isEmpty ? Observation("A26", .blocked, "\(names.count) variables, no secret: \(names.sorted().joined(separator: " "))")
            : Observation("A26", .leaked, found.joined(separator: ", "))
    }

    func terminal() -> Observation {
        let fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC)
        if fd >= 0 { close(fd); return Observation("A28", .leaked, "opened /dev/tty: a controlling terminal is reachable (TIOCSTI not tried)") }
        let e = Errno.current
        let session = getsid(0) == getpid() ? ", B leads its own session" : ""
        return Observation("A28", .blocked, "open /dev/tty: \(e.name)\(session)")
    }

    /// prctl(PR_GET_NO_NEW_PRIVS) (gVisor's /proc/self/status has no NoNewPrivs line).
    func setuid() -> Observation {
        let nnp = cnp_prctl(39 /* PR_GET_NO_NEW_PRIVS */, 0, 0, 0, 0)
        if nnp == 1 { return Observation("A29", .blocked, "no_new_privs 1 (prctl): execve ignores setuid bits") }
        if nnp == 0 { return Observation("A29", .leaked, "no_new_privs 0 (prctl): a setuid binary would run with its owner's privilege") }
        return Observation("A29", .leaked, "PR_GET_NO_NEW_PRIVS: \(Errno.current.name): cannot confirm no_new_privs")
    }

    /// capget(2) for the effective, permitted and inheritable sets; CapAmb from status where shown.
    func capabilities() -> Observation {
        var e: [UInt32] = [0, 0], p: [UInt32] = [0, 0], i: [UInt32] = [0, 0]
        guard cnp_capget(&e, &p, &i) == 0 else { return Observation("A30", .leaked, "capget: \(Errno.current.name): cannot confirm the sets are empty") }
        func hex(_ s: [UInt32]) -> String { String(UInt64(s[1]) << 32 | UInt64(s[0]), radix: 16) }
        let amb = Sys.status("CapAmb")
        let text = "capget: effective \(hex(e)), permitted \(hex(p)), inheritable \(hex(i))" + (amb.map { ", CapAmb \($0)" } ?? "")
        let held = (e + p + i).contains { $0 != 0 } || (amb.map { $0.contains { $0 != "0" } } ?? false)
        return Observation("A30", held ? .leaked : .blocked, text)
    }

    func nestedUserNamespace() -> Observation {
        let rc = Battery.inChild { cnp_unshare(UInt(NamespaceKind.user.cloneFlag)) == 0 ? 0 : Int32(min(errno, 120)) + 1 }
        let seccomp = Sys.status("Seccomp") ?? "?"
        if rc == 0 { return Observation("A30.userns", .leaked, "unshare(CLONE_NEWUSER) succeeded (Seccomp \(seccomp))") }
        let what = rc > 128 ? "killed by \(SignalName.name(rc - 128))" : Errno(rawValue: rc - 1).name
        return Observation("A30.userns", .blocked, "unshare(CLONE_NEWUSER): \(what) (Seccomp \(seccomp))")
    }

    /// Writes one file in B's own workspace past the launch's RLIMIT_FSIZE (SIGXFSZ ignored,
    /// so the kernel answers EFBIG), then removes it.
    func bigFile(limit: Int) -> Observation {
        signal(SIGXFSZ, SIG_IGN)
        let path = "npv-fill"
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return Observation("A33", .notRun, "create ./\(path): \(Errno.current.name)") }
        defer { close(fd); unlink(path) }
        let chunk = [UInt8](repeating: 0x41, count: 1 << 20)
        var written = 0
        while written < limit + (1 << 20) {
            let n = chunk.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                let e = Errno.current
                return Observation("A33", e.rawValue == EFBIG ? .blocked : .notRun, "write at \(written) bytes: \(e.name)")
            }
            written += n
        }
        return Observation("A33", .leaked, "wrote \(written) bytes, past the \(limit)-byte limit")
    }

    /// Forks children that only wait, until fork fails or `cap` exist, then kills them all.
    /// The cap keeps a failed limit harmless; the limit the launcher set is reported.
    func forkBomb(cap: Int = 256) -> Observation {
        var children: [pid_t] = []
        var failure: Errno?
        while children.count < cap {
            let pid = fork()
            if pid == 0 { alarm(10); while true { pause() } }
            if pid < 0 { failure = .current; break }
            children.append(pid)
        }
        for pid in children { kill(pid, SIGKILL) }
        var status: Int32 = 0
        for pid in children { while waitpid(pid, &status, 0) < 0 && errno == EINTR {} }
        var limit = rlimit()
        getrlimit(__rlimit_resource_t(6) /* RLIMIT_NPROC */, &limit)
        let shownLimit = limit.rlim_cur == rlim_t.max ? "unlimited" : String(limit.rlim_cur)
        if let failure {
            return Observation("A32", .blocked, "fork failed with \(failure.name) after \(children.count) children (RLIMIT_NPROC \(shownLimit), uid \(getuid()))")
        }
        return Observation("A32", .leaked, "forked \(cap) children, the cap of this test, without hitting a limit (RLIMIT_NPROC \(shownLimit), uid \(getuid()))")
    }
}
