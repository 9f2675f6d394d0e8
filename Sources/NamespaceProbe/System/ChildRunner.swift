import Glibc
import CNamespaceProbe

/// One probe to run in a forked child.
public struct ProbeJob {
    public let id: String
    /// The first result section the child writes (`StepWriter.section`), so a child killed
    /// before it wrote anything is reported against it.
    public let firstSection: String
    public let body: (StepWriter) -> Void
    public init(id: String, firstSection: String = "", body: @escaping (StepWriter) -> Void) {
        self.id = id
        self.firstSection = firstSection
        self.body = body
    }
}

/// One result's records: a child writes one section, or several after `StepWriter.section`.
public struct RawSection {
    public var steps: [Step] = []
    public var facts: [String: String] = [:]
    public var verdict: Verdict?
    public var verdictDetail: String = ""
    /// The step announced but never finished: where a signal or the deadline hit.
    public var unfinishedStep: String?
}

/// What the parent read from one child: its sections, in order, and how it ended.
public struct RawProbeOutput {
    public var sections: [(name: String, records: RawSection)] = [("", RawSection())]
    public var exit: ChildExit = .exited(0)
    public var durationMicros: Int64 = 0

    public func section(_ name: String) -> RawSection? { sections.first { $0.name == name }?.records }
    /// The section the child was in when it ended.
    public var lastSectionName: String { sections.last!.name }

    static func failedToStart(_ why: String) -> RawProbeOutput {
        var out = RawProbeOutput()
        out.sections[0].records.verdict = .failed
        out.sections[0].records.verdictDetail = why
        return out
    }
}

/// Runs probe children concurrently: fork (before any thread exists), collect records from a
/// pipe per child with poll(2) until a shared deadline, kill what is left, reap everything.
public enum ChildRunner {
    public static func run(_ jobs: [ProbeJob], timeoutMillis: Int, whileWaiting: () -> Void = {}) -> [String: RawProbeOutput] {
        // Orphaned grandchildren come back to us, so nothing outlives the run even when the
        // probe is not PID 1.
        _ = cnp_prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
        let start = Clock.nowMicros()
        let deadline = start + Int64(timeoutMillis) * 1000

        struct Running { var job: ProbeJob; var pid: pid_t; var fd: Int32; var buffer: [UInt8]; var open: Bool; var out: RawProbeOutput }
        var running: [Running] = []
        var results: [String: RawProbeOutput] = [:]

        for job in jobs {
            var fds: [Int32] = [0, 0]
            if cnp_pipe2_cloexec(&fds) != 0 {
                results[job.id] = .failedToStart("pipe2: \(Errno.current)")
                continue
            }
            let pid = fork()
            if pid == 0 {
                close(fds[0])
                for other in running { close(other.fd) }
                _ = setpgid(0, 0)  // one process group per probe: a timeout kills it whole
                _ = cnp_prctl(PR_SET_PDEATHSIG, UInt(SIGKILL), 0, 0, 0)
                job.body(StepWriter(fd: fds[1]))
                _exit(0)
            }
            close(fds[1])
            if pid < 0 {
                close(fds[0])
                results[job.id] = .failedToStart("fork: \(Errno.current)")
                continue
            }
            _ = setpgid(pid, pid)
            var out = RawProbeOutput()
            out.sections[0].name = job.firstSection
            running.append(Running(job: job, pid: pid, fd: fds[0], buffer: [], open: true, out: out))
        }

        whileWaiting()
        var chunk = [UInt8](repeating: 0, count: 4096)
        while running.contains(where: { $0.open }) {
            let now = Clock.nowMicros()
            if now >= deadline { break }
            var pollfds = running.filter { $0.open }.map { pollfd(fd: $0.fd, events: Int16(POLLIN), revents: 0) }
            let waitMillis = Int32(max(1, (deadline - now + 999) / 1000))
            let n = poll(&pollfds, nfds_t(pollfds.count), waitMillis)
            if n < 0 { if errno == EINTR { continue } else { break } }
            for p in pollfds where p.revents != 0 {
                guard let i = running.firstIndex(where: { $0.fd == p.fd }) else { continue }
                let got = chunk.withUnsafeMutableBytes { Glibc.read(p.fd, $0.baseAddress, $0.count) }
                if got > 0 {
                    running[i].buffer.append(contentsOf: chunk[0..<got])
                } else if got == 0 || errno != EINTR {
                    running[i].open = false
                    running[i].out.durationMicros = Clock.nowMicros() - start
                }
            }
        }

        for r in running {
            var out = r.out
            RecordParser.apply(r.buffer, to: &out)
            // Whatever the probe left in its process group (a witness, a grandchild killed by
            // the deadline) is killed while the leader is still unreaped, so the group id
            // cannot have been reused, then reaped: nothing outlives the run.
            _ = kill(-r.pid, SIGKILL)
            if r.open {
                _ = kill(r.pid, SIGKILL)
                out.exit = .timedOut
                out.durationMicros = Clock.nowMicros() - start
                _ = Subprocess.wait(r.pid)
            } else {
                out.exit = Subprocess.wait(r.pid)
            }
            reapGroup(r.pid)
            close(r.fd)
            results[r.job.id] = out
        }
        reapOrphans()
        return results
    }

    /// Waits for every member of a killed process group. Grandchildren come back to us (we
    /// are their subreaper) once their parent is dead; without this they could still be
    /// dying when the probe exits and be left as zombies of an init that does not reap. An
    /// alarm bounds the wait in case a member is stuck in uninterruptible sleep. With no
    /// member left, waitpid returns ECHILD at once.
    static func reapGroup(_ pgid: pid_t) {
        var action = sigaction()
        action.__sigaction_handler.sa_handler = { _ in }  // interrupt waitpid, do not restart
        var previous = sigaction()
        sigaction(SIGALRM, &action, &previous)
        alarm(2)
        var status: Int32 = 0
        while waitpid(-pgid, &status, 0) > 0 {}
        alarm(0)
        sigaction(SIGALRM, &previous, nil)
    }

    /// Reaps anything reparented to us (as subreaper or PID 1) without blocking.
    static func reapOrphans() {
        var status: Int32 = 0
        while waitpid(-1, &status, WNOHANG) > 0 {}
    }
}

enum RecordParser {
    static func apply(_ bytes: [UInt8], to out: inout RawProbeOutput) {
        var begun: [String] = []
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") {
            let f = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            let i = out.sections.count - 1
            switch f.first {
            case "M" where f.count >= 2:
                out.sections[i].records.unfinishedStep = begun.last
                begun = []
                let current = out.sections[i]
                if current.records.steps.isEmpty && current.records.verdict == nil && (current.name.isEmpty || current.name == f[1]) {
                    out.sections[i].name = f[1]
                } else {
                    out.sections.append((f[1], RawSection()))
                }
            case "B" where f.count >= 2: begun.append(f[1])
            case "S" where f.count >= 5:
                if let b = begun.lastIndex(of: f[1]) { begun.remove(at: b) }
                let code = Int32(f[3]) ?? 0
                out.sections[i].records.steps.append(Step(name: f[1], outcome: StepOutcome(rawValue: f[2]) ?? .failed,
                                                          errno: code == 0 ? nil : Errno(rawValue: code),
                                                          detail: f[4].isEmpty ? nil : f[4]))
            case "F" where f.count >= 3: out.sections[i].records.facts[f[1]] = f[2]
            case "V" where f.count >= 3:
                out.sections[i].records.verdict = Verdict(rawValue: f[1])
                out.sections[i].records.verdictDetail = f[2]
            default: continue
            }
        }
        out.sections[out.sections.count - 1].records.unfinishedStep = begun.last
    }
}

public enum Clock {
    public static func nowMicros() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Int64(ts.tv_sec) * 1_000_000 + Int64(ts.tv_nsec) / 1000
    }
}
