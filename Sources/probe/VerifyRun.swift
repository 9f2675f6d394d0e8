import Glibc
import NamespaceProbe
import IsolationSelector
import IsolationVerifier

/// The self-test could not run: which step, the errno if any, and why (exit 125).
struct VerifyError: Error, CustomStringConvertible {
    var step: String
    var errno: String?
    var cause: String
    /// `probe launch` refused the backend before running anything (its "check the request"
    /// step, e.g. a tenant that would run as uid 0): it never launches a tenant that way here,
    /// so there is nothing to attack.
    var refused = false
    var description: String { "\(step)\(errno.map { " (\($0))" } ?? ""): \(cause)" }
}

/// One attack's row: the catalogue's promise for the launch as applied, and what B observed.
struct AttackRow {
    let attack: Attack
    let promise: Promise
    let observation: Observation
    /// A promised protection that did not hold.
    var failed: Bool { promise.blocks && observation.outcome == .leaked }
}

/// One backend's run: tenant A and tenant B launched with `probe launch`, B's battery, the
/// verifier's own checks afterwards (A's signal count, A alive, B's daemon gone).
struct BackendRun {
    var backend: Backend
    var network: IsolationContext.Network
    var context: IsolationContext?
    var rows: [AttackRow] = []
    var error: VerifyError?
    var micros: Int64 = 0
    var failed: [AttackRow] { rows.filter(\.failed) }
    var refused: Bool { error?.refused ?? false }
    var outcome: String { refused ? "refused" : error != nil ? "error" : failed.isEmpty ? "held" : "failed" }
}

/// Everything one run puts in the throw-away root, and how to launch a tenant into it.
struct VerifySession {
    let exe: String
    let report: String
    let root: String
    let roBinds: [String]
    let timeoutMicros: Int64
    let verifierPidNamespace: UInt64
    /// The "server's" own loopback TCP listener (A20.server); never accepted: a completed
    /// connect is the evidence.
    let serverPort: Int
    let serverListener: Int32
    /// A descriptor the "server" leaks into B's launcher (A27): the launcher must close it.
    let serverLog: Int32
    /// Two uids for A and B, outside the launcher's default range (100000-199999) so a run in
    /// a deployed container never gives B the uid of a real tenant (B's kill(-1) would reach
    /// it), and drawn at random per run so concurrent runs do not share them.
    let uidRange: ClosedRange<UInt32>
    /// The probe found gVisor (its /proc differs: see IsolationContext.gvisor).
    let gvisor: Bool
    /// The probe saw the uid switch work (the launcher then layers a per-tenant uid).
    let uidSwitch: Bool

    /// A tenant launched through `probe launch`: argv and environment exactly as a server would.
    func launch(tenant: String, backend: Backend, network: IsolationContext.Network, extraEnv: [String],
                passEnv: [String], command: [String]) throws -> LaunchedTenant {
        var argv = [exe, "launch", "--tenant", tenant, "--backend", backend.name, "--from", report,
                    "--workspace-root", root, "--network", network.rawValue,
                    "--time-limit", String(max(1, Int((timeoutMicros + 999_999) / 1_000_000))),
                    "--limit", "nproc=\(VerifyLimits.nproc),fsize=\(VerifyLimits.fileSize)", "--status", statusPath(tenant),
                    "--uid-range", "\(uidRange.lowerBound)-\(uidRange.upperBound)"]
        for name in passEnv { argv += ["--env", name] }
        for dir in roBinds { argv += ["--ro-bind", dir] }
        argv += ["--"] + command
        // The verifier's own ISOLATION_* must not steer the launcher: the report decides.
        let env = VerifySession.environment().filter { !$0.hasPrefix("ISOLATION_") } + extraEnv
        return try LaunchedTenant.start(argv, environment: env, stderrPath: stderrPath(tenant),
                                    inherit: tenant == "b" ? [serverLog] : [])
    }

    func statusPath(_ tenant: String) -> String { "\(root)/.\(tenant).status.json" }
    func stderrPath(_ tenant: String) -> String { "\(root)/.\(tenant).stderr" }
    var serverCredentials: String { "\(root)/.server-credentials" }

    static func environment() -> [String] {
        var out: [String] = []
        var p = Glibc.environ
        while let e = p.pointee { out.append(String(cString: e)); p += 1 }
        return out
    }

    func status(_ tenant: String) -> JSON? {
        guard case .success(let text) = ProcFiles.read(statusPath(tenant)) else { return nil }
        return try? JSON.parse(text)
    }

    func stderrTail(_ tenant: String) -> String {
        guard case .success(let text) = ProcFiles.read(stderrPath(tenant)) else { return "" }
        return text.split(separator: "\n").suffix(3).joined(separator: " | ")
    }

    /// The launcher's own account of a failed launch: step, errno, cause, else its stderr.
    func launchError(_ tenant: String, _ step: String, exit: Int32) -> VerifyError {
        if let s = status(tenant), let failed = s["failed_step"]?.string {
            let refused = failed == "check the request" && s["command_started"]?.bool == false
            return VerifyError(step: "\(step): probe launch \(refused ? "refused it" : "failed") at '\(failed)'", errno: s["errno"]?.string,
                               cause: s["cause"]?.string ?? "exit \(exit)", refused: refused)
        }
        let tail = stderrTail(tenant)
        return VerifyError(step: step, errno: nil, cause: "probe launch exited \(exit)" + (tail.isEmpty ? "" : ": " + tail))
    }

    /// The layers the launcher reports it applied to B: what the promises depend on.
    static func context(_ s: JSON, backend: Backend, gvisor: Bool) -> IsolationContext {
        let layers = s["layers"]?.array ?? []
        func applied(_ word: String) -> JSON? {
            layers.first { ($0["name"]?.string ?? "").lowercased().contains(word) && $0["applied"]?.bool == true }
        }
        // "landlock ABI 7" (name) or an evidence naming the ABI.
        let abi = applied("landlock").map { l -> Int in
            let text = (l["name"]?.string ?? "") + " " + (l["evidence"]?.string ?? "")
            let words = text.split(separator: " ")
            guard let i = words.firstIndex(of: "ABI"), i + 1 < words.count else { return 1 }
            return Int(words[i + 1].prefix { $0.isNumber }) ?? 1
        }
        let uid = s["tenant_uid"].map { !$0.isNull } ?? false
        let net = IsolationContext.Network(rawValue: s["network"]?.string ?? "") ?? .shared
        let kinds = (s["namespaces"]?.array ?? []).compactMap(\.string)
        return IsolationContext(backend: backend, network: net, perTenantUid: uid || backend == .uid,
                                landlockABI: abi, seccomp: applied("seccomp") != nil, namespaces: Set(kinds), gvisor: gvisor)
    }

    /// What the launch plan guarantees confines B's `kill(-1)`: every namespace backend
    /// unshares pid; a per-tenant uid is applied to every kernel backend where the probe saw
    /// the uid switch work (LaunchPlan). The launcher fails closed, so B never runs without it.
    func killAllConfinement(_ backend: Backend) -> String? {
        if backend == .namespaces || backend == .namespacesSharedProc { return "pid namespace" }
        if backend == .uid || (backend != .directories && uidSwitch) { return "per-tenant uid" }
        return nil
    }

    /// Runs A and B for one backend. Throws VerifyError when the self-test itself cannot run.
    func run(_ backend: Backend, network: IsolationContext.Network) throws -> BackendRun {
        let start = Clock.nowMicros()
        let deadline = start + timeoutMicros
        let c = Canaries.fresh()
        var result = BackendRun(backend: backend, network: network)
        if let e = Scratch.createFile(serverCredentials, c.server + "\n", mode: 0o600) {
            throw VerifyError(step: "create \(serverCredentials)", errno: e.name, cause: "the throw-away root is not writable")
        }
        var a = try launch(tenant: "a", backend: backend, network: network, extraEnv: ["\(Canaries.envName)=\(c.env)"],
                           passEnv: [Canaries.envName], command: [exe, "verify", "--internal-tenant-a", c.argv])
        var planted: Planted?
        defer {
            a.closeStdin()
            a.finish(deadline: Clock.nowMicros() + 2_000_000)
            for p in Scratch.alive(named: [c.processNameA, c.processNameDaemon]) { kill(p.pid, SIGKILL) }
            Scratch.removeObjects(c, sysvId: planted?.sysvId)
        }
        _ = a.send(c.json.serialized(pretty: false))
        guard let line = a.readLine(deadline: deadline), let json = try? JSON.parse(line) else {
            let code = a.finish(deadline: Clock.nowMicros() + 1_000_000)
            if code == 125 || code == 126 || code == 127 { throw launchError("a", "launch tenant A", exit: code) }
            throw VerifyError(step: "tenant A plants its canaries", errno: nil,
                              cause: Clock.nowMicros() >= deadline ? "no answer within --timeout" : "tenant A ended (exit \(code)): \(stderrTail("a"))")
        }
        planted = try Planted(json: json)
        let hostPid = Scratch.alive(named: [c.processNameA]).first?.pid ?? planted!.pid

        let brief = Brief(canaries: c, planted: planted!, root: root, tenantA: "a", serverCredentials: serverCredentials,
                          hostPidA: hostPid, verifierUid: getuid(), verifierPidNamespace: verifierPidNamespace,
                          serverPort: serverPort, verifierPid: getpid(), killAllConfinedBy: killAllConfinement(backend))
        var b = try launch(tenant: "b", backend: backend, network: network, extraEnv: ["\(Canaries.serverEnvName)=\(c.serverEnv)"],
                           passEnv: [], command: [exe, "verify", "--internal-tenant-b"])
        _ = b.send(brief.json.serialized(pretty: false))
        b.closeStdin()
        let answer = b.readLine(deadline: deadline)
        let bExit = b.finish(deadline: deadline)
        guard let answer, let list = (try? JSON.parse(answer))?.array else {
            if bExit == 125 || bExit == 126 || bExit == 127 { throw launchError("b", "launch tenant B", exit: bExit) }
            throw VerifyError(step: "tenant B runs the battery", errno: nil,
                              cause: Clock.nowMicros() >= deadline ? "no result within --timeout" : "tenant B ended (exit \(bExit)) without a result: \(stderrTail("b"))")
        }
        var observations = try list.map(Observation.init(json:))

        // The verifier's own observations, after B's launch has ended.
        // A SIGKILL the launcher sent may still be landing (gVisor delivers it asynchronously):
        // a daemon counts as left behind when it is still alive half a second later.
        let launchEnded = Clock.nowMicros()
        var daemons = Scratch.alive(named: [c.processNameDaemon])
        while !daemons.isEmpty && Clock.nowMicros() - launchEnded < 500_000 {
            usleep(10_000)
            daemons = Scratch.alive(named: [c.processNameDaemon])
        }
        let daemonGoneMillis = (Clock.nowMicros() - launchEnded) / 1000
        for d in daemons { kill(d.pid, SIGKILL) }
        _ = a.send("status")
        let status = a.readLine(deadline: min(deadline, Clock.nowMicros() + 2_000_000)).flatMap { try? JSON.parse($0) }
        for i in observations.indices {
            var o = observations[i]
            switch o.id {
            case "A18" where o.outcome != .notRun:
                o = daemons.isEmpty ? Observation("A18", .blocked, o.evidence + "; gone \(daemonGoneMillis) ms after B's launch ended")
                    : Observation("A18", .leaked, o.evidence + "; still alive \(daemonGoneMillis) ms after B's launch ended (pid \(daemons[0].pid), killed now)")
            case "A17":
                let received = status?["sigusr1"]?.int ?? 0
                o = received > 0 ? Observation("A17", .leaked, "A received \(received) SIGUSR1 (\(o.evidence))")
                    : Observation("A17", .blocked, "A received no signal" + (o.evidence.isEmpty ? "" : " (\(o.evidence))"))
            case "A17.all" where o.outcome == .blocked:  // B ran kill(-1): is A still alive?
                o = status == nil ? Observation("A17.all", .leaked, o.evidence + "; tenant A is dead")
                    : Observation("A17.all", .blocked, o.evidence + "; tenant A still alive")
            case "A03", "A03.file":
                if status?["intact"]?.bool == false && o.outcome == .blocked {
                    o = Observation(o.id, .leaked, o.evidence + "; but A's workspace was changed")
                }
            default: break
            }
            observations[i] = o
        }
        if status == nil && !observations.contains(where: { $0.id == "A17.all" && $0.outcome == .leaked }) {
            throw VerifyError(step: "ask tenant A for its status", errno: nil, cause: "tenant A did not answer: \(stderrTail("a"))")
        }
        guard let bStatus = self.status("b") else {
            throw VerifyError(step: "read tenant B's launch status", errno: nil, cause: "\(statusPath("b")) missing: \(stderrTail("b"))")
        }
        let context = VerifySession.context(bStatus, backend: backend, gvisor: gvisor)
        result.context = context
        result.rows = try observations.map { o in
            guard let attack = AttackCatalogue.attack(o.id) else {
                throw VerifyError(step: "match B's results to the catalogue", errno: nil, cause: "unknown attack id \(o.id)")
            }
            return AttackRow(attack: attack, promise: attack.promise(context), observation: o)
        }
        let missing = AttackCatalogue.attacks.map(\.id).filter { id in !observations.contains { $0.id == id } }
        guard missing.isEmpty else {
            throw VerifyError(step: "match B's results to the catalogue", errno: nil, cause: "B reported nothing for \(missing.joined(separator: ", "))")
        }
        result.micros = Clock.nowMicros() - start
        return result
    }
}

/// A loopback TCP listener of the verifier, standing for the server's own service.
enum ServerListener {
    static func open() throws -> (Int32, Int) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw Errno.current }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) == 0 && listen(fd, 8) == 0 && getsockname(fd, $0, &len) == 0 }
        }
        guard ok else { let e = Errno.current; close(fd); throw e }
        return (fd, Int(UInt16(bigEndian: addr.sin_port)))
    }
}
