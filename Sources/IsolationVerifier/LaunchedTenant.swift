import Glibc
import CNamespaceProbe
import NamespaceProbe

/// A child started with fork/execve, its stdin and stdout as pipes held by the verifier.
/// No shell is involved: argv goes to execve as is.
public struct LaunchedTenant {
    public let pid: pid_t
    /// Write end of the child's stdin, read end of its stdout (both close-on-exec here).
    public private(set) var stdin: Int32
    public let stdout: Int32
    var buffer: [UInt8] = []
    public private(set) var exitStatus: Int32?

    /// Starts `argv` with `environment`, stderr to `stderrPath` (appended), and `inherit`
    /// left open across execve on purpose (the verifier plays a server that leaks one).
    public static func start(_ argv: [String], environment: [String], stderrPath: String, inherit: [Int32] = []) throws -> LaunchedTenant {
        var inPipe: [Int32] = [0, 0], outPipe: [Int32] = [0, 0]
        guard cnp_pipe2_cloexec(&inPipe) == 0 else { throw ProbeError("pipe2: \(Errno.current)") }
        guard cnp_pipe2_cloexec(&outPipe) == 0 else { close(inPipe[0]); close(inPipe[1]); throw ProbeError("pipe2: \(Errno.current)") }
        let errFd = open(stderrPath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        guard errFd >= 0 else { throw ProbeError("open \(stderrPath): \(Errno.current)") }
        // Everything execve needs is built before fork: the child only calls async-signal-safe functions.
        let cArgv = argv.map { strdup($0) } + [nil]
        let cEnv = environment.map { strdup($0) } + [nil]
        defer { cArgv.forEach { free($0) }; cEnv.forEach { free($0) } }
        let pid = fork()
        if pid == 0 {
            dup2(inPipe[0], 0); dup2(outPipe[1], 1); dup2(errFd, 2)
            for fd in inherit { _ = fcntl(fd, F_SETFD, 0) }
            execve(cArgv[0]!, cArgv, cEnv)
            _exit(127)
        }
        let forkErrno = Errno.current
        close(inPipe[0]); close(outPipe[1]); close(errFd)
        guard pid > 0 else { close(inPipe[1]); close(outPipe[0]); throw ProbeError("fork: \(forkErrno)") }
        return LaunchedTenant(pid: pid, stdin: inPipe[1], stdout: outPipe[0])
    }

    init(pid: pid_t, stdin: Int32, stdout: Int32) { (self.pid, self.stdin, self.stdout) = (pid, stdin, stdout) }

    public func send(_ line: String) -> Bool { stdin >= 0 && Sys.writeAll(stdin, line + "\n") }

    public mutating func closeStdin() { if stdin >= 0 { close(stdin); stdin = -1 } }

    /// The next line of stdout before `deadline` (Clock.nowMicros), nil on EOF or timeout.
    public mutating func readLine(deadline: Int64) -> String? {
        while true {
            if let nl = buffer.firstIndex(of: 10) {
                let line = String(decoding: buffer[..<nl], as: UTF8.self)
                buffer.removeFirst(nl + 1)
                return line
            }
            let left = (deadline - Clock.nowMicros()) / 1000
            guard left > 0 else { return nil }
            var p = pollfd(fd: stdout, events: Int16(POLLIN), revents: 0)
            let n = poll(&p, 1, Int32(min(left, 60_000)))
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return nil }
            var chunk = [UInt8](repeating: 0, count: 65536)
            let got = chunk.withUnsafeMutableBytes { read(stdout, $0.baseAddress, $0.count) }
            if got < 0 && errno == EINTR { continue }
            guard got > 0 else { return nil }
            buffer += chunk[0..<got]
        }
    }

    /// Waits until `deadline`; then SIGTERM (the launcher forwards it and kills the tenant's
    /// tree), half a second later SIGKILL. Returns the wait status's exit code (128+N if killed).
    @discardableResult
    public mutating func finish(deadline: Int64) -> Int32 {
        if let s = exitStatus { return s }
        var status: Int32 = 0
        var sentTerm = false
        var killAt = Int64.max
        while true {
            let r = waitpid(pid, &status, WNOHANG)
            if r == pid { break }
            if r < 0 && errno != EINTR { status = 0x7f00; break }
            let now = Clock.nowMicros()
            if now >= deadline && !sentTerm { kill(pid, SIGTERM); sentTerm = true; killAt = now + 500_000 }
            if now >= killAt { kill(pid, SIGKILL); killAt = .max }
            usleep(2000)
        }
        closeStdin()
        close(stdout)
        let code = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        exitStatus = code
        return code
    }
}

/// The throw-away workspace root and what may be left in the verifier's own namespaces.
public enum Scratch {
    /// Removes a tree without following symlinks (a tenant may have planted some).
    public static func removeTree(_ path: String) {
        var st = stat()
        guard lstat(path, &st) == 0 else { return }
        if (st.st_mode & S_IFMT) == S_IFDIR {
            chmod(path, 0o700)
            if case .success(let names) = Sys.list(path) {
                for name in names { removeTree(path + "/" + name) }
            }
            rmdir(path)
        } else {
            unlink(path)
        }
    }

    /// Creates `path` holding `text` with exactly `mode`; nil or the errno.
    public static func createFile(_ path: String, _ text: String, mode: mode_t) -> Errno? {
        Sys.createFile(path, text, mode: mode)
    }

    /// Processes named `names` (PR_SET_NAME) that are alive (not zombies), by this /proc.
    public static func alive(named names: [String]) -> [(pid: Int32, name: String)] {
        Sys.pids().compactMap { pid in
            guard let comm = ProcFiles.line("/proc/\(pid)/comm"), names.contains(comm) else { return nil }
            guard case .success(let stat) = ProcFiles.read("/proc/\(pid)/stat"),
                  let close = stat.lastIndex(of: ")") else { return nil }
            let state = stat[stat.index(after: close)...].drop { $0 == " " }.first
            return state == "Z" || state == "X" ? nil : (pid, comm)
        }
    }

    /// The run's objects in the verifier's own /tmp, /dev/shm and IPC namespace (A removes
    /// them on a clean exit; a killed A leaves them).
    public static func removeObjects(_ c: Canaries, sysvId: Int32?) {
        unlink(c.tmpFile)
        unlink(c.socketPath)
        shm_unlink(c.shmName)
        let byKey = shmget(c.sysvKey, 0, 0)
        if byKey >= 0 { shmctl(byKey, IPC_RMID, nil) }
        if let id = sysvId, id >= 0 { shmctl(id, IPC_RMID, nil) }
    }
}
