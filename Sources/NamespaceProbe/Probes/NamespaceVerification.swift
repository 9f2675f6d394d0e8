import Glibc
import CNamespaceProbe

/// Proof that unshare() really made a new namespace: its /proc/self/ns inode differs from
/// the one before. The caller's own link is read first (Linux updates it). What it cannot
/// show, one forked child shows for every kind at once: the links gVisor keeps stale in the
/// caller, PID 1 of a new pid namespace, the clock offset of a new time namespace.
enum NamespaceVerification {
    enum Newness: UInt8, Equatable { case new = 0, notNew = 1, unverifiable = 2 }

    /// A kind whose unshare() returned 0 in this pass.
    struct Entered {
        let kind: NamespaceKind
        let writer: StepWriter
        let before: (inode: Result<UInt64, Errno>, rootMount: Int?)
    }

    /// Ten days: far beyond any clock drift, so a child that sees it is in the new namespace.
    static let timeOffset = 10 * 86_400

    static func stepName(_ kind: NamespaceKind) -> String { "namespace is new (/proc/self/ns/\(kind.rawValue))" }

    /// The identity to compare with, read before unshare().
    /// The root mount ID is the fallback proof for mnt, read only where the link is missing.
    static func before(_ kind: NamespaceKind) -> (inode: Result<UInt64, Errno>, rootMount: Int?) {
        let inode = ProcFiles.namespaceInode(kind.rawValue)
        guard kind == .mnt, case .failure = inode else { return (inode, nil) }
        return (inode, Parsers.rootMountID(ProcFiles.read("/proc/self/mountinfo")))
    }

    /// Proves every entered kind new. Kinds the caller's own link proves are recorded at
    /// once and handed to `meanwhile`, which acts in them while the first child works; the
    /// rest are proven by the first child. For pid and time, `.new` also means the first
    /// child saw PID 1 / the offset.
    static func prove(_ entered: [Entered], meanwhile: ([Entered]) -> Void) -> [NamespaceKind: Newness] {
        var proofs: [NamespaceKind: Newness] = [:]
        var proven: [Entered] = [], inChild: [Entered] = []
        for e in entered {
            if e.kind == .pid || e.kind == .time {
                inChild.append(e)  // pid_for_children and time_for_children need a process inside
            } else if case .success(let a) = e.before.inode, case .success(let b) = ProcFiles.namespaceInode(e.kind.rawValue), a != b {
                e.writer.record(stepName(e.kind), .ok("inode \(a) -> \(b)"))
                proofs[e.kind] = .new
                proven.append(e)
            } else {
                inChild.append(e)
            }
        }
        guard !inChild.isEmpty else {
            meanwhile(proven)
            return proofs
        }
        let child = FirstChild.start(inChild)
        meanwhile(proven)
        for (kind, newness) in child.finish() { proofs[kind] = newness }
        return proofs
    }

    /// The first process forked after the pass: PID 1 in a new pid namespace, in the new time
    /// namespace, and with its own, fresh links where gVisor left the caller's stale.
    struct FirstChild {
        let entered: [Entered]
        let pid: pid_t
        let fd: Int32
        let failure: StepResult?

        static func start(_ entered: [Entered]) -> FirstChild {
            var clockBefore = timespec()
            clock_gettime(CLOCK_MONOTONIC, &clockBefore)
            var fds: [Int32] = [0, 0]
            guard cnp_pipe2_cloexec(&fds) == 0 else {
                return FirstChild(entered: entered, pid: -1, fd: -1, failure: .failed(.current, "pipe2"))
            }
            let pid = Subprocess.fork()
            if pid == 0 {
                close(fds[0])
                var answers = entered.map { firstChildObserves($0, clockBefore).rawValue }
                // Its records first: the caller goes on writing these results once it has the answers.
                StepWriter.flush()
                _ = write(fds[1], &answers, answers.count)
                Subprocess.exit(0)
            }
            close(fds[1])
            guard pid > 0 else {
                close(fds[0])
                return FirstChild(entered: entered, pid: -1, fd: -1, failure: .failed(.current, "fork the first child"))
            }
            return FirstChild(entered: entered, pid: pid, fd: fds[0], failure: nil)
        }

        /// Waits for the first child's answers. A signal that killed it kills this process
        /// the same way, so the probe blames the step the first child was in.
        func finish() -> [NamespaceKind: Newness] {
            var proofs: [NamespaceKind: Newness] = [:]
            if let failure {
                for e in entered {
                    e.writer.record(stepName(e.kind), failure)
                    proofs[e.kind] = .notNew
                }
                return proofs
            }
            var answers = [UInt8](repeating: 255, count: entered.count)
            var got = 0
            while got < answers.count {
                let n = answers.withUnsafeMutableBytes { read(fd, $0.baseAddress! + got, $0.count - got) }
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { break }
                got += n
            }
            close(fd)
            let exit = Subprocess.wait(pid)
            Subprocess.die(like: exit)
            for (e, answer) in zip(entered, answers) {
                if let n = Newness(rawValue: answer) {
                    proofs[e.kind] = n
                } else {
                    e.writer.record("first child", .failed(nil, "the first child ended without an answer (\(exit))"))
                    proofs[e.kind] = .notNew
                }
            }
            return proofs
        }
    }

    /// In the first child after the pass: it is PID 1 in a new pid namespace, sees the clock
    /// offset of a new time namespace, and reads its own links (gVisor updates those).
    private static func firstChildObserves(_ e: Entered, _ clockBefore: timespec) -> Newness {
        let (newness, result) = observe(e.kind, before: e.before)
        let w = e.writer
        switch e.kind {
        case .pid:
            w.record(stepName(.pid), result)
            guard newness != .notNew else { return .notNew }
            return w.step("fork: child is PID 1") { getpid() == 1 ? .ok() : .failed(nil, "pid is \(getpid())") } ? .new : .notNew
        case .time:
            w.record(stepName(.time), result)
            guard newness != .notNew else { return .notNew }
            return w.step("child sees the monotonic offset") {
                var now = timespec()
                clock_gettime(CLOCK_MONOTONIC, &now)
                return now.tv_sec - clockBefore.tv_sec >= timeOffset - 60 ? .ok("offset \(timeOffset)s seen")
                    : .failed(nil, "the monotonic clock moved \(now.tv_sec - clockBefore.tv_sec)s")
            } ? .new : .notNew
        default:
            if case .ok(let detail) = result {
                w.record(stepName(e.kind), .ok((detail ?? "") + ", read in a child (the caller's own link did not change)"))
            } else {
                w.record(stepName(e.kind), result)
            }
            return newness
        }
    }

    private static func observe(_ kind: NamespaceKind, before: (inode: Result<UInt64, Errno>, rootMount: Int?)) -> (Newness, StepResult) {
        let after = ProcFiles.namespaceInode(kind.rawValue)
        switch (before.inode, after) {
        case (.success(let a), .success(let b)):
            return a != b ? (.new, .ok("inode \(a) -> \(b)"))
                : (.notNew, .failed(nil, "inode unchanged (\(a)): unshare returned 0 but no new namespace exists"))
        case (.failure(let e), _), (_, .failure(let e)):
            // A mount namespace has a second proof: a new one gets new mount IDs.
            if kind == .mnt, let old = before.rootMount, let now = Parsers.rootMountID(ProcFiles.read("/proc/self/mountinfo")) {
                return now != old ? (.new, .ok("no ns link (\(e.name)); root mount ID \(old) -> \(now)"))
                    : (.notNew, .failed(nil, "no ns link (\(e.name)) and root mount ID unchanged (\(old)): mounts are shared with the parent"))
            }
            return (.unverifiable, .skipped("unverifiable: /proc/self/ns/\(kind.rawValue) cannot be read (\(e.name))"))
        }
    }
}
