import Glibc
import CNamespaceProbe
import NamespaceProbe

/// The launcher's wait: reads the children's records until every writer has closed the
/// pipe, reaps the child, forwards SIGTERM/SIGINT/SIGHUP/SIGQUIT to the tenant, and kills the
/// tenant's tree at the deadline. poll(2) over the record pipe and a signalfd; no handlers.
struct Supervisor {
    let child: pid_t
    var recordFD: Int32
    let signalFD: Int32
    let namespaced: Bool
    /// Monotonic microseconds (Clock.nowMicros), or nil for no limit.
    let deadline: Int64?

    var records = RecordStream()
    var exitCode: Int32?
    var childSignal: Int32?
    var timedOut = false
    var setupDoneMicros: Int64?

    init(child: pid_t, recordFD: Int32, signalFD: Int32, namespaced: Bool, deadline: Int64?) {
        self.child = child
        self.recordFD = recordFD
        self.signalFD = signalFD
        self.namespaced = namespaced
        self.deadline = deadline
    }

    /// Where forwarded signals go: PID 1 of the tenant's pid namespace (it forwards to the
    /// command's process group; the child itself, or the child's child when a user
    /// namespace came first), else the command's process group (it called setsid).
    mutating func target() -> pid_t {
        if namespaced { return pid1() ?? child }
        return -child
    }

    /// PID 1 as the child reported it (a fact on the pipe; read now).
    mutating func pid1() -> pid_t? {
        readAvailable()
        return records.sections[SandboxedChild.section]?.facts["pid1"].flatMap { pid_t($0) }
    }

    private var scratch = [UInt8](repeating: 0, count: 4096)

    /// Reads what is in the pipe now (the descriptor is non-blocking).
    private mutating func readAvailable() {
        guard recordFD >= 0 else { return }
        while true {
            let got = scratch.withUnsafeMutableBytes { read(recordFD, $0.baseAddress, $0.count) }
            if got > 0 { records.append(scratch[0..<got]); continue }
            if got < 0 && errno == EINTR { continue }
            return
        }
    }

    mutating func run() {
        _ = fcntl(recordFD, F_SETFL, fcntl(recordFD, F_GETFL) | O_NONBLOCK)
        while exitCode == nil || recordFD >= 0 {
            // The pipe is watched for its end only (POLLHUP is reported whatever the events):
            // a wakeup per record cost a context switch per step. The records, a few KiB,
            // wait in the pipe buffer (64 KiB) and are read once every writer is gone.
            var pfds = [pollfd(fd: recordFD, events: 0, revents: 0), pollfd(fd: signalFD, events: Int16(POLLIN), revents: 0)]
            var timeout: Int32 = -1
            if let deadline, !timedOut { timeout = Int32(clamping: max(0, (deadline - Clock.nowMicros() + 999) / 1000)) }
            let n = poll(&pfds, 2, timeout)
            if n < 0 { if errno == EINTR { continue }; break }
            if n == 0 { killTree(); timedOut = true; continue }
            if pfds[0].revents != 0 {
                setupDoneMicros = Clock.nowMicros()
                drainRecords()
            }
            if pfds[1].revents != 0 { handleSignal() }
        }
        if recordFD >= 0 { drainRecords() }
    }

    /// Reads every record left in the pipe and closes it.
    private mutating func drainRecords() {
        readAvailable()
        close(recordFD)
        recordFD = -1
    }

    private mutating func handleSignal() {
        var sig: Int32 = 0, from: Int32 = 0
        guard cnp_signalfd_read(signalFD, &sig, &from) == 0 else { return }
        if sig == SIGCHLD {
            var status: Int32 = 0
            while true {
                let pid = waitpid(-1, &status, WNOHANG)
                if pid <= 0 { break }
                if pid == child {
                    exitCode = ChildExitCode.of(status)
                    if cnp_wifsignaled(status) != 0 { childSignal = cnp_wtermsig(status) }
                    // The pid namespace ends with its PID 1, but a tenant outside one may have
                    // left processes holding the pipe: they go now.
                    if !namespaced { _ = kill(-child, SIGKILL) }
                    DescendantReaper.killAll()
                }
            }
        } else {
            let t = target()
            if kill(t, sig) != 0 && t < 0 { _ = kill(child, sig) }
        }
    }

    /// SIGKILL to the child and, in a pid namespace, to its PID 1: the kernel then kills
    /// every process of the namespace. Outside one, the command's group and every orphan.
    private mutating func killTree() {
        if namespaced, let pid1 = pid1() { _ = kill(pid1, SIGKILL) }
        _ = kill(-child, SIGKILL)
        _ = kill(child, SIGKILL)
        // The rest goes once the child is reaped (SIGCHLD path), which records its status.
    }
}

/// The launcher is a child subreaper (PR_SET_CHILD_SUBREAPER): every process a tenant leaves
/// behind (a double-forked daemon) becomes its child once its parent dies. Killing all its
/// children until none is left ends the tenant's whole tree.
enum DescendantReaper {
    /// Call once the launcher's own child is reaped: it reaps any child.
    static func killAll() {
        let me = getpid()
        for _ in 0..<1000 {
            // Reap what has exited; ECHILD means no child is left at all, the usual case,
            // and then /proc is not read.
            var status: Int32 = 0
            var pid: pid_t
            repeat { pid = waitpid(-1, &status, WNOHANG) } while pid > 0
            if pid < 0 && errno == ECHILD { return }
            let children = childrenOf(me)
            if children.isEmpty { return }
            for pid in children { _ = kill(pid, SIGKILL) }
            for pid in children { _ = waitpid(pid, &status, 0) }
        }
    }

    /// Processes whose parent is `parent`, from /proc/<pid>/stat (the fourth field).
    static func childrenOf(_ parent: pid_t) -> [pid_t] {
        guard case .success(let names) = ProcFiles.entries("/proc") else { return [] }
        var found: [pid_t] = []
        for name in names {
            guard let pid = pid_t(name), case .success(let stat) = ProcFiles.read("/proc/\(name)/stat", limit: 1024),
                  let close = stat.lastIndex(of: ")") else { continue }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            if fields.count > 1, pid_t(fields[1]) == parent { found.append(pid) }
        }
        return found
    }
}
