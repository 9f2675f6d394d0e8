import Glibc
import NamespaceProbe
import IsolationSelector
import IsolationVerifier

/// `probe verify`: tenant B attacks tenant A, both launched with `probe launch`, in a
/// throw-away workspace root; every attack the backend promises to block must be blocked.
enum VerifyCommand {
    struct Options {
        var backend: Backend?
        var all = false
        var network: IsolationContext.Network?
        var json = false
        var timeoutSeconds = 20.0
        var fromReport: String?
    }

    static let help = """
    OVERVIEW: Prove, here, that tenant B cannot reach tenant A under an isolation backend.

    Builds a throw-away workspace root (never /workspaces), starts tenant A with `probe
    launch` holding canaries (files in its workspace, git repository, HOME and TMPDIR, a
    world-readable /tmp file, an environment variable, an argv token, a loopback TCP
    listener, abstract and pathname unix sockets, POSIX and SysV shared memory), then starts
    tenant B the same way, which runs \(AttackCatalogue.attacks.count) attacks from the catalogue. Each attack is
    reported blocked or LEAKED with its evidence, next to what the backend promises.
    Everything is removed afterwards.

    USAGE: probe verify [--backend <name> | --all] [--network none|shared] [--json]
                        [--timeout <seconds>] [--from <report.json>]

    OPTIONS:
      --backend <name>        Verify this backend (default: the one `probe` selects here).
      --all                   Verify every backend the probe found available, one column
                              each.
      --network none|shared   Network mode for the namespace backends (default none; the
                              other backends always share the network).
      --json                  Versioned JSON (schema verify/1) instead of the table.
      --timeout <seconds>     Bound on each backend's run (default 20); the tenants are
                              killed and the run reported as failed to run (125).
      --from <report.json>    Use a saved `probe --json` report instead of probing now.
      -h, --help              Show this help.

    EXIT CODES:
      0    every attack the backend promises to block was blocked (leaks where the backend
           promises nothing are reported, never a failure)
      2    usage error
      4    at least one promised protection failed: the message names the attacks
      125  the self-test could not run (a launch failed, or probe launch refuses the
           backend asked for): step, errno and cause on stderr. With --all, a backend
           probe launch refuses here (it would never launch a tenant that way) is
           reported as refused; 125 only when nothing could be verified
    """

    static func parse(_ args: [String]) throws -> Options {
        var o = Options()
        var c = ArgumentCursor(args, help: "probe verify --help")
        func value(_ flag: String) throws -> String { try c.value() }
        while let flag = c.next() {
            switch flag {
            case "--backend": o.backend = try Backend.parse(try value("--backend"))
            case "--all": o.all = true
            case "--network":
                let v = try value("--network")
                guard let n = IsolationContext.Network(rawValue: v) else { throw UsageError("--network takes none or shared, got '\(v)'") }
                o.network = n
            case "--json": o.json = true
            case "--timeout":
                let v = try value("--timeout")
                guard let s = Double(v), s > 0, s <= 600 else { throw UsageError("--timeout takes seconds between 0 and 600, got '\(v)'") }
                o.timeoutSeconds = s
            case "--from": o.fromReport = try value("--from")
            default: throw UsageError("unknown option '\(c.current)' (see probe verify --help)")
            }
        }
        if o.all && o.backend != nil { throw UsageError("--backend and --all exclude each other") }
        return o
    }

    static func run(_ args: [String]) -> Int32 {
        // Internal modes: the tenants' side, run inside `probe launch`; not in --help.
        if args.first == "--internal-tenant-a" { return TenantA.run(argvToken: args.count > 1 ? args[1] : "") }
        if args.first == "--internal-tenant-b" { return TenantB.run() }
        if args.contains("-h") || args.contains("--help") { print(help); return 0 }
        let o: Options
        do { o = try parse(args) } catch { Console.error("probe verify: \(error)"); return 2 }
        signal(SIGPIPE, SIG_IGN)

        let report: Report
        let selection: Selection
        do {
            report = try o.fromReport.map(ReportFile.load)?.report ?? Prober.run(ProbeOptions(timeoutMillis: 5000))
            selection = Selector.select(report)
        } catch {
            return fail(VerifyError(step: "probe this container", errno: nil, cause: "\(error)"), json: o.json)
        }
        let available = selection.candidates.filter(\.available).map(\.backend)
        let backends: [Backend]
        if available.isEmpty {
            // Nothing can launch a tenant here: the self-test cannot run (125), and says why;
            // with --json the document still comes, with no run in it.
            if o.json { try? Console.emit(VerifyOutput.json([], report: report, selected: selection.chosen, exit: 125).serialized() + "\n", to: nil) }
            return fail(VerifyError(step: "select a backend", errno: nil, cause: selection.reason), json: o.json)
        }
        if o.all { backends = available }
        else {
            let b = o.backend ?? selection.chosen
            guard available.contains(b) else {
                let why = selection.candidates.first { $0.backend == b }?.shortfalls.first.map { "\($0.requirement): \($0.step ?? $0.probe) \($0.errno ?? "")" } ?? ""
                Console.error("probe verify: backend \(b.name) is not available here (\(why)); available: \(available.map(\.name).joined(separator: ", "))")
                return 2
            }
            backends = [b]
        }

        let session: VerifySession
        do { session = try makeSession(report, timeoutMicros: Int64(o.timeoutSeconds * 1_000_000)) }
        catch let e as VerifyError { return fail(e, json: o.json) }
        catch { return fail(VerifyError(step: "prepare the throw-away root", errno: nil, cause: "\(error)"), json: o.json) }
        defer {
            if session.serverLog >= 0 { close(session.serverLog) }
            close(session.serverListener)
            Scratch.removeTree(session.root)
        }

        var runs: [BackendRun] = []
        for b in backends {
            let namespaced = b == .namespaces || b == .namespacesSharedProc
            let network: IsolationContext.Network = namespaced ? o.network ?? .none : .shared
            do {
                runs.append(try session.run(b, network: network))
            } catch let e as VerifyError {
                runs.append(BackendRun(backend: b, network: network, error: e))
            } catch {
                runs.append(BackendRun(backend: b, network: network, error: VerifyError(step: "run", errno: nil, cause: "\(error)")))
            }
            // A fresh area per backend: tenants of one run never see another's leftovers.
            for t in ["a", "b"] { Scratch.removeTree("\(session.root)/\(t)") }
            unlink("\(session.root)/.tenant-uids")
        }

        // A backend the launcher refuses to run here is reported, not verified: an error only
        // when it was the one asked for, or when nothing at all could be verified.
        let couldNotRun = runs.contains { $0.error != nil && (!$0.refused || !o.all) } || runs.allSatisfy { $0.error != nil }
        let exit: Int32 = couldNotRun ? 125 : runs.contains { !$0.failed.isEmpty } ? 4 : 0
        let text = o.json ? VerifyOutput.json(runs, report: report, selected: selection.chosen, exit: exit).serialized() + "\n" : VerifyOutput.table(runs, columns: o.all)
        do { try Console.emit(text, to: nil) } catch { Console.error("probe verify: \(error)") }
        for r in runs {
            if let e = r.error { Console.error("probe verify: \(r.backend.name): \(r.refused ? "not verified, probe launch refuses it here" : "the self-test could not run"): \(e)") }
            let failed = r.failed
            if !failed.isEmpty {
                Console.error("probe verify: \(r.backend.name): promised protection failed: "
                    + failed.map { "\($0.attack.id) (\($0.attack.tries): \($0.observation.evidence))" }.joined(separator: "; "))
            }
        }
        return exit
    }

    static func fail(_ e: VerifyError, json: Bool) -> Int32 {
        Console.error("probe verify: the self-test could not run: \(e)")
        return 125
    }

    /// The throw-away root: `/tmp/namespace-probe.verify.XXXXXX`, 0711 (tenants traverse it,
    /// none lists it), holding the saved report the launches read and the server's files.
    static func makeSession(_ report: Report, timeoutMicros: Int64) throws -> VerifySession {
        var template = Array("/tmp/namespace-probe.verify.XXXXXX".utf8CString)
        guard mkdtemp(&template) != nil else {
            throw VerifyError(step: "mkdtemp /tmp/namespace-probe.verify.XXXXXX", errno: Errno.current.name, cause: "cannot make the throw-away workspace root")
        }
        let root = String(cString: template)
        guard chmod(root, 0o711) == 0 else {
            let e = Errno.current
            Scratch.removeTree(root)
            throw VerifyError(step: "chmod 0711 \(root)", errno: e.name, cause: "cannot set the root's mode")
        }
        do {
            try Console.emit(SelectionJSON.reportWithSelection(report, Selector.select(report)).serialized(), to: root + "/.report.json")
        } catch {
            Scratch.removeTree(root)
            throw VerifyError(step: "write \(root)/.report.json", errno: nil, cause: "\(error)")
        }
        // The "server's log": opened without O_CLOEXEC, as a careless server would leave it.
        let log = open(root + "/.server-log", O_RDWR | O_CREAT, 0o600)
        let exe = (try? ProcFiles.readLink("/proc/self/exe").get()) ?? CommandLine.arguments[0]
        let pidns = (try? ProcFiles.namespaceInode("pid").get()) ?? 0
        let port: Int
        let listener: Int32
        do { (listener, port) = try ServerListener.open() } catch {
            if log >= 0 { close(log) }
            Scratch.removeTree(root)
            throw VerifyError(step: "listen on 127.0.0.1", errno: (error as? Errno)?.name, cause: "the server's loopback listener (A20.server) cannot be opened")
        }
        return VerifySession(exe: exe, report: root + "/.report.json", root: root, roBinds: binaryDirectories(exe),
                             timeoutMicros: timeoutMicros, verifierPidNamespace: pidns, serverPort: port,
                             serverListener: listener, serverLog: log,
                             uidRange: tenantUIDs(), gvisor: report.runtime("gvisor")?.confidence == .yes,
                             uidSwitch: report.identitySwitch.verdict == .ok)
    }

    /// A random pair in 200000-299999 (see VerifySession.uidRange).
    static func tenantUIDs() -> ClosedRange<UInt32> {
        let first = 200_000 + 2 * (UInt32(Token.hex(4), radix: 16)! % 50_000)
        return first...(first + 1)
    }

    /// Directories the tenants need to run this binary inside a namespace root: its own and
    /// those of the libraries mapped now (a debug build links /opt/swift), minus what every
    /// launch already binds.
    static func binaryDirectories(_ exe: String) -> [String] {
        var dirs: [String] = []
        func add(_ file: String) {
            guard let slash = file.lastIndex(of: "/") else { return }
            let dir = String(file[..<slash])
            let system = ["/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc"]
            if dir.isEmpty || system.contains(where: { dir == $0 || dir.hasPrefix($0 + "/") }) || dirs.contains(dir) { return }
            dirs.append(dir)
        }
        add(exe)
        if case .success(let maps) = ProcFiles.read("/proc/self/maps", limit: 1 << 20) {
            for line in maps.split(separator: "\n") {
                if let path = line.split(separator: " ", omittingEmptySubsequences: true).dropFirst(5).first, path.hasPrefix("/") { add(String(path)) }
            }
        }
        return dirs
    }
}
