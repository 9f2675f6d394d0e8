import Glibc
import CNamespaceProbe

/// What one step of a probe observed.
public enum StepResult {
    case ok(String? = nil)
    case failed(Errno?, String? = nil)
    case skipped(String)

    /// `rc == -1` becomes a failure carrying errno; anything else is ok.
    public static func check(_ rc: Int32, _ detail: String? = nil) -> StepResult {
        rc == -1 ? .failed(.current, detail) : .ok(detail)
    }
    public static func check(_ result: Result<Void, Errno>, _ detail: String? = nil) -> StepResult {
        switch result {
        case .success: return .ok(detail)
        case .failure(let e): return .failed(e, detail)
        }
    }
    /// Ok or skipped (not needed here): a chain of steps goes on.
    public var isOK: Bool { if case .failed = self { return false } else { return true } }
}

/// Child side of the result pipe. Every record names the result (section) it belongs to,
/// so one child can write several results, and its own children can write into them too.
/// Each write(2) is shorter than PIPE_BUF, so records from a probe child and its
/// grandchildren never interleave.
///
/// Records that end something (a step's outcome, a fact, a verdict) wait in a buffer and go
/// out with the next record that begins something (a step, a question, a stop): the announce
/// before a step is what lets a kill be blamed on it, so it is never held back. Under gVisor
/// every write costs about 30 us in the child and wakes the probe process. The buffer is
/// flushed before every fork and exit; a crash between two steps loses the last outcome and
/// the kill is then blamed on the step before.
public struct StepWriter {
    let fd: Int32
    /// Where answers to `ask` come from (the probe process); -1 when nobody answers.
    let replyFD: Int32
    /// The result this writer's records belong to.
    public let section: String

    public init(fd: Int32, replyFD: Int32 = -1, section: String) {
        self.fd = fd
        self.replyFD = replyFD
        self.section = section
    }

    /// The same pipe, writing into another result.
    public func into(_ section: String) -> StepWriter { StepWriter(fd: fd, replyFD: replyFD, section: section) }

    /// Runs one named step: announces it first, so a child killed inside the step (SIGSYS)
    /// is reported against the right step, then records what it observed.
    @discardableResult
    public func step(_ name: String, _ body: () -> StepResult) -> Bool {
        send("B", [name])
        let result = body()
        record(name, result)
        return result.isOK
    }

    public func record(_ name: String, _ result: StepResult) {
        switch result {
        case .ok(let detail): send("S", [name, "ok", "0", detail ?? ""])
        case .failed(let e, let detail): send("S", [name, "failed", String(e?.rawValue ?? 0), detail ?? ""])
        case .skipped(let why): send("S", [name, "skipped", "0", why])
        }
    }

    /// A value the parent should keep (an ABI version, a uid used).
    public func fact(_ key: String, _ value: String) { send("F", [key, value]) }

    /// The probe's conclusion; without it the parent reports `failed`.
    public func verdict(_ verdict: Verdict, _ detail: String = "") { send("V", [verdict.rawValue, detail]) }

    /// Asks the probe process a question about what the outside sees (it stayed in the old
    /// namespaces) and waits for the answer. Nil when no answer comes.
    public func ask(_ question: String) -> String? {
        guard replyFD >= 0 else { return nil }
        send("Q", [question])
        return readReply()
    }

    /// Tells the probe process to wait for this child's next stop, before the child makes
    /// it its tracer (PTRACE_TRACEME): from then on any signal stops the child, and the
    /// probe process must already be waiting. False when nobody answers.
    public func expectStop() -> Bool {
        guard replyFD >= 0 else { return false }
        send("T", [])
        return true
    }

    /// Stops (after `expectStop`) and returns what the probe process saw and did: detached
    /// from its tracee, or continued a child that was not traced. Nil when no answer comes.
    public func stopAndWait() -> String? {
        raise(SIGSTOP)
        return readReply()
    }

    /// One answer line. The probe process writes exactly one answer per request and the
    /// child waits for it, so a whole chunk read here belongs to this answer.
    private func readReply() -> String? {
        var answer: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 512)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(replyFD, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return nil }
            answer.append(contentsOf: chunk[0..<n])
            if let end = answer.firstIndex(of: 10) { return String(decoding: answer[..<end], as: UTF8.self) }
        }
    }

    /// Writes the records held back, if any. Call before fork (the child would write them
    /// again) and before the process ends.
    public static func flush() { Pending.flush() }

    /// One line: type, section, fields, tab-separated. Tabs and newlines inside a field
    /// become spaces and long fields are cut, on bytes: Character handling is slow and
    /// would be faulted in by every child.
    private func send(_ type: StaticString, _ fields: [String]) {
        var line: [UInt8] = []
        line.reserveCapacity(256)
        type.withUTF8Buffer { line.append(contentsOf: $0) }
        for field in [section] + fields {
            line.append(9)
            var count = 0
            for byte in field.utf8 {
                if count == 300 { break }
                line.append(byte == 9 || byte == 10 ? 32 : byte)
                count += 1
            }
        }
        line.append(10)
        let kind = type.utf8Start.pointee
        let begins = kind == UInt8(ascii: "B") || kind == UInt8(ascii: "Q") || kind == UInt8(ascii: "T")
        Pending.add(line, fd: fd, flushNow: begins)
    }
}

/// The records this process holds back (see StepWriter), for one pipe.
private enum Pending {
    nonisolated(unsafe) static var bytes: [UInt8] = []
    nonisolated(unsafe) static var fd: Int32 = -1

    static func add(_ line: [UInt8], fd: Int32, flushNow: Bool) {
        // A record never straddles two writes, and no write grows past PIPE_BUF.
        if fd != Pending.fd || bytes.count + line.count > Int(PIPE_BUF) { flush() }
        Pending.fd = fd
        bytes.append(contentsOf: line)
        if flushNow { flush() }
    }

    static func flush() {
        guard !bytes.isEmpty else { return }
        _ = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        bytes.removeAll(keepingCapacity: true)
    }
}

/// How probe code forks, ends and dies: each writes the records held back first (a forked
/// child would write them again; an ending process would lose them).
public enum Subprocess {
    /// fork(2); the new process dies with its parent (PR_SET_PDEATHSIG), so a killed probe
    /// leaves nothing behind.
    public static func fork() -> pid_t {
        StepWriter.flush()
        let pid = Glibc.fork()
        if pid == 0 { _ = cnp_prctl(PR_SET_PDEATHSIG, UInt(SIGKILL), 0, 0, 0) }
        return pid
    }

    /// _exit(2).
    public static func exit(_ code: Int32) -> Never {
        StepWriter.flush()
        _exit(code)
    }

    /// Dies by the signal that killed a child of this process, so the runner sees the
    /// signal against the step that child left unfinished (and probes the rest again).
    public static func die(like exit: ChildExit) {
        guard case .signaled(let sig) = exit else { return }
        StepWriter.flush()
        signal(sig, SIG_DFL)
        raise(sig)
    }

    /// Forks; the grandchild runs `body` and exits with its return value.
    public static func run(_ body: () -> Int32) -> Result<ChildExit, Errno> {
        let pid = fork()
        if pid < 0 { return .failure(.current) }
        if pid == 0 { exit(body()) }
        return .success(wait(pid))
    }

    public static func wait(_ pid: pid_t) -> ChildExit {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            if errno != EINTR { return .exited(255) }
        }
        return ChildExit(status: status)
    }
}

/// How a child process ended.
public enum ChildExit: Equatable {
    case exited(Int32)
    case signaled(Int32)
    case timedOut

    init(status: Int32) {
        if cnp_wifsignaled(status) != 0 { self = .signaled(cnp_wtermsig(status)) }
        else { self = .exited(cnp_wexitstatus(status)) }
    }
}
