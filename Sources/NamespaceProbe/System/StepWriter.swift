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

/// Child side of the result pipe. Each record is one write(2) shorter than PIPE_BUF, so
/// records from a probe child and its grandchildren never interleave.
public struct StepWriter {
    let fd: Int32

    /// Runs one named step: announces it first, so a child killed inside the step (SIGSYS)
    /// is reported against the right step, then records what it observed.
    @discardableResult
    public func step(_ name: String, _ body: () -> StepResult) -> Bool {
        send("B\t\(clean(name))")
        let result = body()
        record(name, result)
        return result.isOK
    }

    public func record(_ name: String, _ result: StepResult) {
        switch result {
        case .ok(let detail): send("S\t\(clean(name))\tok\t0\t\(clean(detail ?? ""))")
        case .failed(let e, let detail):
            send("S\t\(clean(name))\tfailed\t\(e?.rawValue ?? 0)\t\(clean(detail ?? ""))")
        case .skipped(let why): send("S\t\(clean(name))\tskipped\t0\t\(clean(why))")
        }
    }

    /// Starts a new result in the same child (a probe tried as is, then in a user namespace).
    public func section(_ name: String) { send("M\t\(clean(name))") }

    /// A value the parent should keep (an ABI version, a uid used).
    public func fact(_ key: String, _ value: String) { send("F\t\(clean(key))\t\(clean(value))") }

    /// The probe's conclusion; without it the parent reports `failed`.
    public func verdict(_ verdict: Verdict, _ detail: String = "") {
        send("V\t\(verdict.rawValue)\t\(clean(detail))")
    }

    /// Tabs and newlines would break the record format; long details are cut. Bytes, not
    /// Characters: grapheme handling is slow and would be faulted in by every child.
    private func clean(_ s: String) -> String {
        var bytes = Array(s.utf8.prefix(300))
        for i in bytes.indices where bytes[i] == 9 || bytes[i] == 10 { bytes[i] = 32 }
        return String(decoding: bytes, as: UTF8.self)
    }

    private func send(_ line: String) {
        var bytes = Array(line.utf8)
        bytes.append(10)
        _ = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
    }
}

/// Helpers a probe child uses to run a grandchild and read how it ended.
public enum Subprocess {
    /// Forks; the grandchild runs `body` and exits with its return value. The grandchild
    /// dies with its parent (PR_SET_PDEATHSIG), so a killed probe leaves nothing behind.
    public static func run(_ body: () -> Int32) -> Result<ChildExit, Errno> {
        let pid = fork()
        if pid < 0 { return .failure(.current) }
        if pid == 0 {
            _ = cnp_prctl(PR_SET_PDEATHSIG, UInt(SIGKILL), 0, 0, 0)
            _exit(body())
        }
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
