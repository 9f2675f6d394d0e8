/// Outcome of one step.
public enum StepOutcome: String { case ok, failed, skipped }

/// One named step of a probe, as observed in the child.
public struct Step: Equatable {
    public var name: String
    public var outcome: StepOutcome
    public var errno: Errno?
    public var detail: String?
    public init(name: String, outcome: StepOutcome, errno: Errno? = nil, detail: String? = nil) {
        self.name = name
        self.outcome = outcome
        self.errno = errno
        self.detail = detail
    }
}

/// What a probe concluded from what it observed.
public enum Verdict: String, CaseIterable {
    /// Every step worked and the effect was observed (new inode, PID 1, private mount ...).
    case ok
    /// A step failed; `failedStep` and `errno` say which and why.
    case failed
    /// The call returned success but nothing could prove the effect (no /proc/self/ns link).
    case unverifiable
    /// The child died by a signal (SIGSYS: a seccomp filter killed it).
    case killed
    /// The child did not finish before the deadline and was killed.
    case timeout
    /// Not attempted: not needed, or a prerequisite was missing.
    case notRun = "not_run"
}

/// One probe's full result: verdict, every step, and the explanation of a failure.
public struct ProbeResult: Equatable {
    public var verdict: Verdict
    public var steps: [Step]
    public var failedStep: String?
    public var errno: Errno?
    public var signal: Int32?
    public var detail: String?
    public var cause: String?
    public var facts: [String: String]
    public var durationMicros: Int64

    public init(verdict: Verdict, steps: [Step] = [], failedStep: String? = nil, errno: Errno? = nil,
                signal: Int32? = nil, detail: String? = nil, cause: String? = nil,
                facts: [String: String] = [:], durationMicros: Int64 = 0) {
        self.verdict = verdict
        self.steps = steps
        self.failedStep = failedStep
        self.errno = errno
        self.signal = signal
        self.detail = detail
        self.cause = cause
        self.facts = facts
        self.durationMicros = durationMicros
    }

    public static func notRun(_ why: String) -> ProbeResult { ProbeResult(verdict: .notRun, detail: why) }

    /// Turns what the parent read for one result into the result. How the child ended (a
    /// signal, the deadline) belongs to the section it was in.
    init(raw section: RawSection) {
        var steps = section.steps
        var verdict = section.verdict ?? .failed
        var signal: Int32?
        var detail = section.verdictDetail.isEmpty ? nil : section.verdictDetail
        switch section.end {
        case .timedOut:
            verdict = .timeout
            if let s = section.unfinishedStep { steps.append(Step(name: s, outcome: .failed, detail: "deadline passed in this step")) }
            detail = "the probe did not finish before the deadline and was killed"
        case .killed(let sig):
            verdict = .killed
            signal = sig
            if let s = section.unfinishedStep {
                steps.append(Step(name: s, outcome: .failed, detail: "killed by \(SignalName.name(sig))"))
            }
            detail = "the probe child was killed by \(SignalName.name(sig))"
        case .exitedWithoutVerdict(let code):
            detail = "the probe child exited with status \(code) without a verdict"
        case .notReached(let why):
            verdict = .notRun
            detail = "not attempted: \(why)"
        case .finished:
            break
        }
        let failed = steps.first(where: { $0.outcome == .failed })
        self.init(verdict: verdict, steps: steps,
                  failedStep: verdict == .ok ? nil : failed?.name,
                  errno: verdict == .ok ? nil : failed?.errno, signal: signal, detail: detail,
                  facts: section.facts, durationMicros: section.durationMicros)
    }
}

/// The eight namespace kinds, with what the kernel calls them.
public enum NamespaceKind: String, CaseIterable {
    case user, pid, mnt, net, ipc, uts, cgroup, time

    public var cloneFlag: UInt {
        switch self {
        case .user: return 0x1000_0000
        case .pid: return 0x2000_0000
        case .mnt: return 0x0002_0000
        case .net: return 0x4000_0000
        case .ipc: return 0x0800_0000
        case .uts: return 0x0400_0000
        case .cgroup: return 0x0200_0000
        case .time: return 0x0000_0080
        }
    }

    public var flagName: String {
        switch self {
        case .mnt: return "CLONE_NEWNS"
        default: return "CLONE_NEW\(rawValue.uppercased())"
        }
    }
}
