import Glibc
import CNamespaceProbe

/// Work for one forked child: several results (sections) written in order. Every fork costs
/// (about 0.3 ms of CPU on Linux, 6 ms under gVisor), so related probes share a child; a
/// signal in one of them does not hide the others: the runner forks the job again for the
/// results still missing.
public struct ProbeJob {
    public let id: String
    /// Every result the job writes, in order.
    public let sections: [String]
    /// A section of checks that every other section depends on (the syscall is reachable at
    /// all): a child killed there is reported killed in every section, and not forked again.
    public let preamble: String?
    /// Runs in the child; skips the sections in the set (already done by an earlier child).
    public let body: (StepWriter, Set<String>) -> Void

    public init(id: String, sections: [String], preamble: String? = nil, body: @escaping (StepWriter, Set<String>) -> Void) {
        self.id = id
        self.sections = sections
        self.preamble = preamble
        self.body = body
    }
}

/// One result's records, and how the child that wrote it ended when it ended there.
public struct RawSection: Equatable {
    public enum End: Equatable {
        /// The child wrote a verdict (or went on to other sections).
        case finished
        /// The child exited with this status without writing a verdict here.
        case exitedWithoutVerdict(Int32)
        case killed(Int32)
        case timedOut
        /// No child reached this section; the reason says why.
        case notReached(String)
    }
    public var steps: [Step] = []
    public var facts: [String: String] = [:]
    public var verdict: Verdict?
    public var verdictDetail: String = ""
    /// The step announced but never finished: where a signal or the deadline hit.
    public var unfinishedStep: String?
    public var end: End = .finished
    /// From the start of the run to the end of the child that wrote this section.
    public var durationMicros: Int64 = 0

    public init() {}

    static func failedToStart(_ why: String) -> RawSection {
        var s = RawSection()
        s.verdict = .failed
        s.verdictDetail = why
        return s
    }
}

/// Runs probe children concurrently: fork (before any thread exists), collect records from a
/// pipe per child with poll(2) until a shared deadline, answer the children's questions,
/// fork a job again after a signal, kill what is left at the deadline, reap everything.
public enum ChildRunner {
    /// `answer` replies to `StepWriter.ask` from the probe process; `whileWaiting` runs once
    /// every child is forked.
    public static func run(_ jobs: [ProbeJob], timeoutMillis: Int, answer: (String) -> String = { _ in "" },
                           whileWaiting: () -> Void = {}) -> [String: RawSection] {
        // Orphaned grandchildren come back to us, so nothing outlives the run even when the
        // probe is not PID 1.
        _ = cnp_prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
        // An answer written to a child that died meanwhile must fail with EPIPE, not kill us.
        let pipeDisposition = signal(SIGPIPE, SIG_IGN)
        defer { signal(SIGPIPE, pipeDisposition) }
        var run = Run(start: Clock.nowMicros(), timeoutMillis: timeoutMillis, pipeDisposition: pipeDisposition)
        run.start(jobs.map { ($0, []) })
        whileWaiting()
        run.collect(answer)
        run.killRemaining()
        reapOrphans()
        return run.results
    }

    /// Waits for every member of a killed process group. Grandchildren come back to us (we
    /// are their subreaper) once their parent is dead; without this they could still be
    /// dying when the probe exits and be left as zombies of an init that does not reap. An
    /// timer bounds the wait in case a member is stuck in uninterruptible sleep. With no
    /// member left, waitpid returns ECHILD at once.
    static func reapGroup(_ pgid: pid_t) {
        var status: Int32 = 0
        interrupted(after: 2_000_000) { while waitpid(-pgid, &status, 0) > 0 {} }
    }

    /// waitpid for one child, given up (-1, EINTR) after `micros`.
    static func waitBounded(_ pid: pid_t, _ status: inout Int32, options: Int32 = 0, micros: Int64) -> pid_t {
        guard micros > 0 else { return -1 }
        var got: pid_t = -1
        interrupted(after: micros) { got = waitpid(pid, &status, options) }
        return got
    }

    /// What the runner answers a child it traced, saw stop and detached from.
    public static let detachedAnswer = "stopped by SIGSTOP, then detached"

    /// Runs `body` with an interval timer whose SIGALRM interrupts a blocking call in it
    /// (EINTR: the handler does nothing and asks for no restart); both undone after.
    private static func interrupted(after micros: Int64, _ body: () -> Void) {
        var action = sigaction()
        action.__sigaction_handler.sa_handler = { _ in }
        var previous = sigaction()
        sigaction(SIGALRM, &action, &previous)
        let which = __itimer_which_t(ITIMER_REAL.rawValue)
        var timer = itimerval(it_interval: timeval(), it_value: timeval(tv_sec: Int(micros / 1_000_000), tv_usec: Int(micros % 1_000_000)))
        setitimer(which, &timer, nil)
        body()
        timer = itimerval()
        setitimer(which, &timer, nil)
        sigaction(SIGALRM, &previous, nil)
    }

    /// Reaps anything reparented to us (as subreaper or PID 1) without blocking.
    static func reapOrphans() {
        var status: Int32 = 0
        while waitpid(-1, &status, WNOHANG) > 0 {}
    }
}

/// One child of a job: its pipes and what it wrote so far.
private struct Instance {
    let job: ProbeJob
    let skip: Set<String>
    let pid: pid_t
    let fd: Int32
    let replyFD: Int32
    var records = RecordStream()
    var open = true
    /// How the child ended, when the runner saw it end while waiting for a tracer stop.
    var ended: ChildExit?
}

private struct Run {
    let start: Int64
    let deadline: Int64
    /// What SIGPIPE did before the runner ignored it; children get it back.
    let pipeDisposition: __sighandler_t?
    var instances: [Instance] = []
    var results: [String: RawSection] = [:]

    init(start: Int64, timeoutMillis: Int, pipeDisposition: __sighandler_t?) {
        self.start = start
        deadline = start + Int64(timeoutMillis) * 1000
        self.pipeDisposition = pipeDisposition
    }

    /// Forks one child per job, each skipping the sections given with it. The pipes come
    /// first and the forks back to back: under gVisor each page the parent writes after a
    /// fork is copied first, and bookkeeping between two forks cost 5 to 17 ms there.
    mutating func start(_ jobs: [(job: ProbeJob, skip: Set<String>)]) {
        // Per job: result pipe (read, write), then reply pipe (read, write); -1 when failed.
        var fds = [Int32](repeating: -1, count: 4 * jobs.count)
        for (i, (job, skip)) in jobs.enumerated() {
            let made = fds.withUnsafeMutableBufferPointer { b -> Bool in
                guard cnp_pipe2_cloexec(b.baseAddress! + 4 * i) == 0 else { return false }
                guard cnp_pipe2_cloexec(b.baseAddress! + 4 * i + 2) == 0 else {
                    close(b[4 * i]); close(b[4 * i + 1])
                    b[4 * i] = -1; b[4 * i + 1] = -1
                    return false
                }
                return true
            }
            if !made { failed(job, skip, "pipe2: \(Errno.current)") }
        }
        var pids = [pid_t](repeating: -1, count: jobs.count)
        pids.withUnsafeMutableBufferPointer { pid in
            fds.withUnsafeBufferPointer { fd in
                for i in jobs.indices where fd[4 * i] >= 0 {
                    pid[i] = fork()
                    if pid[i] == 0 { child(jobs[i].job, jobs[i].skip, own: i, fd) }
                }
            }
        }
        for (i, (job, skip)) in jobs.enumerated() where fds[4 * i] >= 0 {
            close(fds[4 * i + 1]); close(fds[4 * i + 2])
            guard pids[i] > 0 else {
                close(fds[4 * i]); close(fds[4 * i + 3])
                failed(job, skip, "fork: \(Errno.current)")
                continue
            }
            _ = setpgid(pids[i], pids[i])
            instances.append(Instance(job: job, skip: skip, pid: pids[i], fd: fds[4 * i], replyFD: fds[4 * i + 3]))
        }
    }

    /// In a forked child: keep only its own pipe ends, then run the job.
    private func child(_ job: ProbeJob, _ skip: Set<String>, own: Int, _ fds: UnsafeBufferPointer<Int32>) -> Never {
        for (i, fd) in fds.enumerated() where fd >= 0 && i != 4 * own + 1 && i != 4 * own + 2 { close(fd) }
        for other in instances where other.open { close(other.fd); close(other.replyFD) }
        signal(SIGPIPE, pipeDisposition)
        _ = setpgid(0, 0)  // one process group per child: a timeout kills it whole
        _ = cnp_prctl(PR_SET_PDEATHSIG, UInt(SIGKILL), 0, 0, 0)
        job.body(StepWriter(fd: fds[4 * own + 1], replyFD: fds[4 * own + 2], section: job.sections.first { !skip.contains($0) } ?? job.id), skip)
        Subprocess.exit(0)
    }

    private mutating func failed(_ job: ProbeJob, _ skip: Set<String>, _ why: String) {
        for s in job.sections where !skip.contains(s) { results[s] = .failedToStart(why) }
    }

    /// Reads records until every child closed its pipe or the deadline passed. A child that
    /// ends is reaped at once, and its job forked again if a signal cut it short.
    mutating func collect(_ answer: (String) -> String) {
        var chunk = [UInt8](repeating: 0, count: 4096)
        while instances.contains(where: { $0.open }) {
            let now = Clock.nowMicros()
            if now >= deadline { return }
            var pollfds = instances.filter { $0.open }.map { pollfd(fd: $0.fd, events: Int16(POLLIN), revents: 0) }
            let n = poll(&pollfds, nfds_t(pollfds.count), Int32(max(1, (deadline - now + 999) / 1000)))
            if n < 0 { if errno == EINTR { continue } else { return } }
            for p in pollfds where p.revents != 0 {
                guard let i = instances.firstIndex(where: { $0.fd == p.fd && $0.open }) else { continue }
                let got = chunk.withUnsafeMutableBytes { Glibc.read(p.fd, $0.baseAddress, $0.count) }
                if got > 0 {
                    for request in instances[i].records.append(chunk[0..<got]) {
                        let text: String
                        switch request {
                        case .question(let question): text = answer(question)
                        case .stoppedForTracer:
                            guard let seen = releaseTracee(i) else { continue }
                            text = seen
                        }
                        var reply = Array(text.utf8)
                        reply.append(10)
                        _ = reply.withUnsafeBytes { Glibc.write(instances[i].replyFD, $0.baseAddress, $0.count) }
                    }
                } else if got == 0 || errno != EINTR {
                    instances[i].open = false
                    let exit = reap(i, timedOut: false)
                    finish(instances[i], exit)
                }
            }
        }
    }

    /// The child is about to make us its tracer (PTRACE_TRACEME) and then stops itself:
    /// wait for that SIGSTOP (bounded by the deadline) and detach, or continue the child
    /// if it was not traced after all. Returns what was seen and done, or nil when the
    /// child ended instead (its exit is kept for the reaping) or never stopped.
    private mutating func releaseTracee(_ i: Int) -> String? {
        let pid = instances[i].pid
        var status: Int32 = 0
        while true {
            let got = ChildRunner.waitBounded(pid, &status, options: WUNTRACED, micros: deadline - Clock.nowMicros())
            if got != pid {
                // No stop before the deadline: the child times out.
                return nil
            }
            guard cnp_wifstopped(status) != 0 else {
                instances[i].ended = ChildExit(status: status)
                return nil
            }
            let sig = cnp_wstopsig(status)
            if sig == SIGSTOP {
                // Its own SIGSTOP is swallowed.
                if cnp_ptrace_detach(pid, 0) == 0 { return ChildRunner.detachedAnswer }
                return letGoUntraced(pid, after: "PTRACE_DETACH") ?? "stopped untraced, continued with SIGCONT"
            }
            // Another signal reached the traced child first (a child of its own ending):
            // hand it over and wait on. Detaching here would leave its SIGSTOP to stop it
            // for good, untraced.
            if cnp_ptrace_cont(pid, sig) == -1, let failure = letGoUntraced(pid, after: "PTRACE_CONT") { return failure }
        }
    }

    /// After a ptrace request failed: ESRCH means the child is not our tracee (its
    /// PTRACE_TRACEME failed) and sits in a plain stop, which SIGCONT ends. Anything else
    /// leaves it stuck: killed, with the reason as the answer.
    private func letGoUntraced(_ pid: pid_t, after request: String) -> String? {
        let e = Errno.current
        if e == .ESRCH, kill(pid, SIGCONT) == 0 { return nil }
        _ = kill(pid, SIGKILL)
        return "\(request) failed: \(e.name)"
    }

    /// At the deadline: whatever is still open timed out.
    mutating func killRemaining() {
        for i in instances.indices where instances[i].open {
            instances[i].open = false
            let exit = reap(i, timedOut: true)
            finish(instances[i], exit)
        }
    }

    /// Kills what the child left in its process group (a grandchild) while the leader is
    /// still unreaped, so the group id cannot have been reused, then reaps it all. (A leader
    /// reaped while the runner waited for its tracer stop leaves the id held by any member
    /// still alive. waitid with WNOWAIT would keep it unreaped, but gVisor reports a ptrace
    /// stop there as CLD_KILLED, status 127.) A child
    /// cut off at the deadline may have written records the loop did not read (the announce
    /// of the step it hung in): they are read before the pipe closes.
    private mutating func reap(_ i: Int, timedOut: Bool) -> ChildExit {
        let instance = instances[i]
        _ = kill(-instance.pid, SIGKILL)
        var exit: ChildExit = .timedOut
        if let ended = instance.ended {
            exit = timedOut ? .timedOut : ended
        } else if timedOut {
            _ = kill(instance.pid, SIGKILL)
            _ = Subprocess.wait(instance.pid)
        } else {
            exit = Subprocess.wait(instance.pid)
        }
        ChildRunner.reapGroup(instance.pid)
        if timedOut { drain(i) }
        close(instance.fd)
        close(instance.replyFD)
        return exit
    }

    /// Reads what is left in a dead child's pipe, without blocking.
    private mutating func drain(_ i: Int) {
        let fd = instances[i].fd
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return }
            _ = instances[i].records.append(chunk[0..<n])  // nobody is left to answer
        }
    }

    private mutating func finish(_ instance: Instance, _ exit: ChildExit) {
        let job = instance.job
        let duration = Clock.nowMicros() - start
        let mine = job.sections.filter { !instance.skip.contains($0) }
        var written = instance.records.sections
        for key in written.keys { written[key]!.durationMicros = duration }
        // Where the child was when it ended: inside a step, else its last record, else its first section.
        let endedIn = instance.records.unfinished?.section ?? instance.records.lastSection ?? mine.first ?? job.id
        let unfinished = mine.filter { written[$0]?.verdict == nil }

        func mark(_ section: String, _ end: RawSection.End, step: String?) {
            var s = written[section] ?? RawSection()
            s.end = end
            s.durationMicros = duration  // a section never written has no duration yet
            if let step { s.unfinishedStep = step }
            written[section] = s
        }
        let step = instance.records.unfinished?.name
        var again: Set<String> = []
        switch exit {
        case .exited(let code):
            for s in unfinished {
                let reached = written[s] != nil || s == endedIn
                mark(s, reached ? .exitedWithoutVerdict(code) : .notReached("the probe child exited (status \(code)) before reaching this"), step: nil)
            }
        case .timedOut:
            let everywhere = endedIn == job.preamble
            for s in unfinished {
                let here = everywhere || s == endedIn
                mark(s, .timedOut, step: here ? step : nil)
            }
        case .signaled(let sig):
            if endedIn == job.preamble {
                for s in unfinished { mark(s, .killed(sig), step: step) }
            } else {
                mark(endedIn, .killed(sig), step: step)
                // Results the signal cut off are probed again by a fresh child.
                again = Set(unfinished.filter { $0 != endedIn })
            }
        }
        for (key, section) in written where !again.contains(key) { results[key] = section }
        if !again.isEmpty {
            start([(job, Set(job.sections).subtracting(again))])
        }
    }
}

/// Parses the record lines of one child as they arrive (see StepWriter). The launcher reads
/// its children's steps with it too.
public struct RecordStream {
    public var sections: [String: RawSection] = [:]
    var lastSection: String?
    /// Steps announced and not finished yet (a child's step can enclose its grandchild's).
    private var open: [(section: String, name: String)] = []
    /// The innermost step announced and not finished, with its section.
    public var unfinished: (section: String, name: String)? { open.last }
    private var pending: [UInt8] = []

    public init() {}

    /// What a child waits for from the probe process.
    public enum Request: Equatable {
        /// A question about the outside (`StepWriter.ask`).
        case question(String)
        /// The child is about to make us its tracer and stop (`StepWriter.expectStop`).
        case stoppedForTracer
    }

    /// Adds bytes; returns what the child asked for in them.
    @discardableResult
    public mutating func append(_ bytes: ArraySlice<UInt8>) -> [Request] {
        pending.append(contentsOf: bytes)
        var requests: [Request] = []
        while let newline = pending.firstIndex(of: 10) {
            let fields = pending[..<newline].split(separator: 9, omittingEmptySubsequences: false)
                .map { String(decoding: $0, as: UTF8.self) }
            pending.removeSubrange(...newline)
            if let r = apply(fields) { requests.append(r) }
        }
        return requests
    }

    private mutating func apply(_ f: [String]) -> Request? {
        guard f.count >= 2 else { return nil }
        let name = f[1]
        lastSection = name
        var s = sections[name] ?? RawSection()
        defer { sections[name] = s }
        switch f[0] {
        case "B" where f.count >= 3: open.append((name, f[2]))
        case "S" where f.count >= 6:
            if let i = open.lastIndex(where: { $0.section == name && $0.name == f[2] }) { open.remove(at: i) }
            let code = Int32(f[4]) ?? 0
            s.steps.append(Step(name: f[2], outcome: StepOutcome(rawValue: f[3]) ?? .failed,
                                errno: code == 0 ? nil : Errno(rawValue: code), detail: f[5].isEmpty ? nil : f[5]))
        case "F" where f.count >= 4: s.facts[f[2]] = f[3]
        case "V" where f.count >= 4:
            s.verdict = Verdict(rawValue: f[2])
            s.verdictDetail = f[3]
        case "Q" where f.count >= 3: return .question(f[2])
        case "T": return .stoppedForTracer
        default: break
        }
        return nil
    }
}

public enum Clock {
    public static func nowMicros() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Int64(ts.tv_sec) * 1_000_000 + Int64(ts.tv_nsec) / 1000
    }
}
