import Glibc
import NamespaceProbe

/// Tenant B's attacks, in an order where none spoils another: descriptors and environment
/// first (before B opens anything), `kill(-1)` before the daemon it would kill, the fork bomb last.
struct Battery {
    let b: Brief
    var c: Canaries { b.canaries }
    var a: Planted { b.planted }
    init(_ brief: Brief) { b = brief }

    func run(inherited: [String]) -> [Observation] {
        var out: [Observation] = [descriptors(inherited), environment(), terminal(), setuid(), capabilities(), nestedUserNamespace()]
        out += files()
        out += [posixShm(), sysvShm()]
        let found = findA()
        out += [listProcesses(found), cmdline(found), environ(found), maps(found), ptraceA(found), signalA(found), killAll()]
        out.append(daemon())
        out += [tcp(), serverTCP(), abstractSocket(), pathnameSocket()]
        out.append(bigFile(limit: VerifyLimits.fileSize))
        out.append(forkBomb())
        return out
    }

    // MARK: helpers

    /// Reads `path` and says whether the canary was in it.
    func readCanary(_ id: String, _ path: String, _ token: String, canary: String) -> Observation {
        if let f = a.failure(canary) { return Observation(id, .notRun, "A could not plant it (\(f))") }
        switch ProcFiles.read(path, limit: 1 << 16) {
        case .failure(let e): return Observation(id, .blocked, "open \(path): \(e.name)")
        case .success(let text):
            return text.contains(token) ? Observation(id, .leaked, "read \(path): '\(shown(token))'")
                : Observation(id, .blocked, "opened \(path) but the canary was not in it")
        }
    }

    /// Runs `body` in a child and returns its exit code (or 128+signal), with a deadline.
    static func inChild(timeoutMillis: Int = 2000, _ body: () -> Int32) -> Int32 {
        let pid = fork()
        if pid < 0 { return -1 }
        if pid == 0 { alarm(UInt32(max(1, timeoutMillis / 1000 + 1))); _exit(body()) }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    }
}
