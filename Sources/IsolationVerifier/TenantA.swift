import Glibc
import CNamespaceProbe
import NamespaceProbe

/// SIGUSR1s tenant A received: B's signal attack is judged by what A saw, not by kill's return.
nonisolated(unsafe) private var signalsReceived: Int32 = 0

/// Tenant A: a long-running process holding every canary, run through `probe launch` by the
/// verifier. Protocol on its stdin/stdout (both pipes to the verifier, passed through by the
/// launcher): in: one line of canaries JSON; out: one line of `Planted` JSON; then in:
/// `status` lines, answered with `{"sigusr1": N, "intact": BOOL}`; EOF: clean up and exit 0.
public enum TenantA {
    public static func run(argvToken: String) -> Int32 {
        signal(SIGPIPE, SIG_IGN)
        var line = LineReader(fd: 0)
        let c: Canaries
        do {
            guard let first = line.next() else { throw ProbeError("stdin ended") }
            c = try Canaries(json: JSON.parse(first))
        } catch {
            TenantLog.error("tenant A: expected the canaries on stdin: \(error)")
            return 125
        }
        guard c.argv == argvToken else { TenantLog.error("tenant A: the argv token differs from the canaries"); return 125 }
        _ = c.processNameA.withCString { cnp_prctl(PR_SET_NAME, UInt(bitPattern: $0), 0, 0, 0) }
        var action = sigaction()
        action.__sigaction_handler.sa_handler = { _ in signalsReceived &+= 1 }
        sigaction(SIGUSR1, &action, nil)

        var a = Holder(c)
        a.plant()
        Sys.writeAll(1, a.planted.json.serialized(pretty: false) + "\n")
        a.serve(&line)
        a.cleanUp()
        return 0
    }

    /// Owns the canaries' descriptors while A runs.
    struct Holder {
        let c: Canaries
        var planted: Planted
        var listeners: [(fd: Int32, token: String)] = []
        var shmPointer: UnsafeMutableRawPointer?
        var madeTmp = false, madeSocket = false, madeShm = false

        init(_ c: Canaries) {
            self.c = c
            var cwd = [Int8](repeating: 0, count: 4096)
            let workspace = getcwd(&cwd, cwd.count).map { String(cString: $0) } ?? "?"
            planted = Planted(pid: getpid(), uid: getuid(), workspace: workspace,
                              home: getenv("HOME").map { String(cString: $0) } ?? "", tmpdir: getenv("TMPDIR").map { String(cString: $0) } ?? "/tmp",
                              port: 0, sysvId: -1, failures: [])
        }

        mutating func fail(_ canary: String, _ step: String, _ e: Errno) { planted.failures.append((canary, "\(step): \(e.name)")) }

        mutating func plant() {
            let p = planted
            if let e = Sys.createFile(p.secretFile, c.file + "\n", mode: 0o644) { fail("file", "create secret.txt", e) }
            plantRepository()
            if let e = Sys.mkdirs(p.home, mode: 0o700) { fail("home", "mkdir HOME", e) }
            else if let e = Sys.createFile(p.homeFile, c.home + "\n", mode: 0o600) { fail("home", "create HOME file", e) }
            if let e = Sys.createFile(p.tmpdirFile, c.tmpdir + "\n", mode: 0o644) { fail("tmpdir", "create TMPDIR file", e) }
            if let e = Sys.createFile(c.tmpFile, c.tmp + "\n", mode: 0o644) { fail("tmp", "create \(c.tmpFile)", e) } else { madeTmp = true }
            if getenv(Canaries.envName).map({ String(cString: $0) }) != c.env { fail("env", "getenv(\(Canaries.envName))", .ENOENT) }
            listenTCP()
            listenUnix(abstract: true)
            listenUnix(abstract: false)
            makeShm()
            makeSysV()
        }

        /// A git repository: `git init` where git is installed (its config then gets a remote
        /// with a token, as a clone with credentials has), else a `.git` directory of our own.
        mutating func plantRepository() {
            let p = planted
            let remote = "[remote \"origin\"]\n\turl = https://token:\(c.git)@git.example/a.git\n"
            if access("/usr/bin/git", X_OK) == 0, Battery.inChild(timeoutMillis: 3000, {
                let null = open("/dev/null", O_RDWR)
                dup2(null, 0); dup2(null, 1); dup2(null, 2)
                let argv: [UnsafeMutablePointer<CChar>?] = [strdup("git"), strdup("init"), strdup("-q"), strdup(p.workspace), nil]
                execv("/usr/bin/git", argv)
                return 127
            }) == 0, case .success(let config) = ProcFiles.read(p.gitConfig) {
                if let e = Sys.createFile(p.gitConfig, config + remote, mode: 0o644) { fail("git", "append to .git/config", e) }
                return
            }
            if let e = Sys.mkdirs(p.workspace + "/.git/hooks", mode: 0o755) { fail("git", "mkdir .git/hooks", e) }
            else if let e = Sys.createFile(p.gitConfig, "[core]\n\trepositoryformatversion = 0\n" + remote, mode: 0o644) { fail("git", "create .git/config", e) }
        }

        mutating func listenTCP() {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard fd >= 0 else { return fail("tcp", "socket(AF_INET)", .current) }
            var addr = Sys.inetLoopback(port: 0)
            let bound = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
            guard bound == 0 else { fail("tcp", "bind(127.0.0.1:0)", .current); close(fd); return }
            guard listen(fd, 16) == 0 else { fail("tcp", "listen", .current); close(fd); return }
            var len = socklen_t(MemoryLayout<sockaddr_in>.size)
            _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
            planted.port = Int(UInt16(bigEndian: addr.sin_port))
            listeners.append((fd, c.tcp))
        }

        mutating func listenUnix(abstract: Bool) {
            let what = abstract ? "abstract" : "pathname"
            let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard fd >= 0 else { return fail(what, "socket(AF_UNIX)", .current) }
            var (addr, len) = Sys.unixAddress(abstract ? c.abstractName : c.socketPath, abstract: abstract)
            let bound = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }
            guard bound == 0 else { fail(what, "bind(\(abstract ? "@" + c.abstractName : c.socketPath))", .current); close(fd); return }
            if !abstract {
                madeSocket = true
                // A socket anyone may connect to, as servers often leave them.
                if chmod(c.socketPath, 0o777) != 0 { fail(what, "chmod 0777", .current) }
            }
            guard listen(fd, 16) == 0 else { fail(what, "listen", .current); close(fd); return }
            listeners.append((fd, abstract ? c.abstract : c.pathname))
        }

        mutating func makeShm() {
            let fd = shm_open(c.shmName, O_RDWR | O_CREAT | O_EXCL, 0o600)
            guard fd >= 0 else { return fail("shm", "shm_open(\(c.shmName))", .current) }
            madeShm = true
            defer { close(fd) }
            if fchmod(fd, 0o600) != 0 || !Sys.writeAll(fd, c.shm + "\n") { fail("shm", "write", .current) }
        }

        mutating func makeSysV() {
            let id = shmget(c.sysvKey, 4096, IPC_CREAT | IPC_EXCL | 0o600)
            guard id >= 0 else { return fail("sysv", "shmget(IPC_CREAT, 0600)", .current) }
            planted.sysvId = id
            guard let p = shmat(id, nil, 0), p != UnsafeMutableRawPointer(bitPattern: -1) else { return fail("sysv", "shmat", .current) }
            let bytes = Array(c.sysv.utf8)
            p.copyMemory(from: bytes, byteCount: bytes.count)
            shmPointer = p
        }

        /// Answers connections with the listener's canary and the verifier's status requests.
        mutating func serve(_ line: inout LineReader) {
            while true {
                var fds = [pollfd(fd: 0, events: Int16(POLLIN), revents: 0)] + listeners.map { pollfd(fd: $0.fd, events: Int16(POLLIN), revents: 0) }
                let n = poll(&fds, nfds_t(fds.count), -1)
                if n < 0 { if errno == EINTR { continue }; return }
                for (i, l) in listeners.enumerated() where fds[i + 1].revents != 0 {
                    let peer = accept(l.fd, nil, nil)
                    if peer >= 0 { Sys.writeAll(peer, l.token + "\n"); close(peer) }
                }
                if fds[0].revents != 0 {
                    guard let request = line.next() else { return }
                    if request == "status" {
                        // Changed only when A read its file or hooks and found them changed;
                        // null when A cannot tell (it could not plant or read them).
                        var intact: JSON = .null
                        if case .success(let text) = ProcFiles.read(planted.secretFile), case .success(let hooks) = Sys.list(planted.workspace + "/.git/hooks") {
                            intact = .bool(text == c.file + "\n" && !hooks.contains("post-checkout"))
                        }
                        Sys.writeAll(1, JSON.object([("sigusr1", .int(Int64(signalsReceived))), ("intact", intact)]).serialized(pretty: false) + "\n")
                    }
                }
            }
        }

        /// What outlives A unless removed: the /tmp file and socket, the POSIX and SysV objects.
        func cleanUp() {
            if madeTmp { unlink(c.tmpFile) }
            if madeSocket { unlink(c.socketPath) }
            if madeShm { shm_unlink(c.shmName) }
            if let p = shmPointer { shmdt(p) }
            if planted.sysvId >= 0 { shmctl(planted.sysvId, IPC_RMID, nil) }
        }
    }
}

extension Result {
    func get(or fallback: Success) -> Success { (try? get()) ?? fallback }
}

/// Lines from an fd, unbuffered beyond what was read (the fd is a pipe from the verifier).
public struct LineReader {
    let fd: Int32
    var buffer: [UInt8] = []
    public init(fd: Int32) { self.fd = fd }
    public mutating func next() -> String? {
        while true {
            if let nl = buffer.firstIndex(of: 10) {
                let line = String(decoding: buffer[..<nl], as: UTF8.self)
                buffer.removeFirst(nl + 1)
                return line
            }
            var chunk = [UInt8](repeating: 0, count: 65536)
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return nil }
            buffer += chunk[0..<n]
        }
    }
}

/// The tenants write their own errors to stderr (the launcher passes it through).
enum TenantLog {
    static func error(_ text: String) { Sys.writeAll(2, text + "\n") }
}
