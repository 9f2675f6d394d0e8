import Glibc
import CNamespaceProbe

/// Proof that unshare() really made a new namespace. Where the link control holds
/// (`LinkControl`), its /proc/self/ns inode differs from the one before: the caller's own link
/// is read first (Linux updates it); what it cannot show, one forked child shows for every
/// kind at once: the links gVisor keeps stale in the caller, PID 1 of a new pid namespace,
/// the clock offset of a new time namespace. Where the link proves nothing, acting does:
/// the probe process's socket and message queue (`OutsideWitness`), the root mount ID, PID 1,
/// the clock offset; a kind with no such proof (uts, cgroup) stays unverifiable.
enum NamespaceVerification {
    enum Newness: UInt8, Equatable { case new = 0, notNew = 1, unverifiable = 2 }

    /// A kind whose unshare() returned 0 in this pass.
    struct Entered {
        let kind: NamespaceKind
        let writer: StepWriter
        let before: (inode: Result<UInt64, Errno>, rootMount: Int?)
        let control: LinkControl
    }

    /// Ten days: far beyond any clock drift, so a child that sees it is in the new namespace.
    static let timeOffset = 10 * 86_400

    static func stepName(_ kind: NamespaceKind) -> String { "namespace is new (/proc/self/ns/\(kind.rawValue))" }

    /// The identity to compare with, read before unshare(), and the control on it. The root
    /// mount ID is the other proof for mnt, read only where the link proves nothing.
    static func before(_ kind: NamespaceKind, _ ctx: ProbeContext) -> (inode: Result<UInt64, Errno>, rootMount: Int?, control: LinkControl) {
        let inode = ProcFiles.namespaceInode(kind.rawValue)
        let control = LinkControl.check(kind, here: inode, ctx)
        guard kind == .mnt, !control.isEvidence else { return (inode, nil, control) }
        return (inode, Parsers.rootMountID(ProcFiles.read("/proc/self/mountinfo")), control)
    }

    /// Proves every entered kind new. Kinds the caller's own link proves, or the caller can
    /// prove without a link, are recorded at once and handed to `meanwhile`, which acts in
    /// them while the first child works; the rest are proven by the first child. For pid and
    /// time, `.new` also means the first child saw PID 1 / the offset.
    static func prove(_ entered: [Entered], _ ctx: ProbeContext, meanwhile: ([Entered]) -> Void) -> [NamespaceKind: Newness] {
        var proofs: [NamespaceKind: Newness] = [:]
        var proven: [Entered] = [], inChild: [Entered] = []
        for e in entered {
            if e.kind == .pid || e.kind == .time {
                inChild.append(e)  // pid_for_children and time_for_children need a process inside
            } else if case .evidence(let a) = e.control {
                if case .success(let b) = ProcFiles.namespaceInode(e.kind.rawValue), a != b {
                    e.writer.record(stepName(e.kind), .ok("inode \(a) -> \(b); control: the probe process reads \(a) too"))
                    proofs[e.kind] = .new
                    proven.append(e)
                } else {
                    inChild.append(e)
                }
            } else {
                let (newness, result) = withoutLink(e, ctx)
                e.writer.record(stepName(e.kind), result)
                proofs[e.kind] = newness
                if newness == .new { proven.append(e) }
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

    /// The link proves nothing here. net and ipc go on to the acting step that decides
    /// (NamespaceAction: the probe process's socket, its message queue), mnt compares root
    /// mount IDs (a new mount namespace copies every mount under a new ID).
    private static func withoutLink(_ e: Entered, _ ctx: ProbeContext) -> (Newness, StepResult) {
        let why = e.control.why(e.kind)
        switch e.kind {
        case .net where (try? ctx.witness.socket.get()) != nil:
            return (.new, .skipped("\(why); the connect to the probe process's socket below decides"))
        case .ipc where (try? ctx.witness.messageQueue.get()) != nil:
            return (.new, .skipped("\(why); the probe process's message queue below decides"))
        case .mnt:
            guard let old = e.before.rootMount, let now = Parsers.rootMountID(ProcFiles.read("/proc/self/mountinfo")) else { break }
            return now != old ? (.new, .ok("\(why); root mount ID \(old) -> \(now)"))
                : (.notNew, .failed(nil, "\(why); root mount ID unchanged (\(old)): mounts are shared with the parent"))
        default:
            break
        }
        return (.unverifiable, .skipped("unverifiable: \(why)"))
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
        let (newness, result) = observe(e)
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

    /// The child's link against the caller's, where the control says links are evidence.
    private static func observe(_ e: Entered) -> (Newness, StepResult) {
        guard case .evidence(let a) = e.control else {
            return (.unverifiable, .skipped("unverifiable by the link: \(e.control.why(e.kind))"))
        }
        switch ProcFiles.namespaceInode(e.kind.rawValue) {
        case .success(let b):
            return a != b ? (.new, .ok("inode \(a) -> \(b); control: the probe process reads \(a) too"))
                : (.notNew, .failed(nil, "inode unchanged (\(a)): unshare returned 0 but no new namespace exists"))
        case .failure(let err):
            return (.unverifiable, .skipped("unverifiable: /proc/self/ns/\(e.kind.rawValue) cannot be read in the child (\(err.name))"))
        }
    }
}
