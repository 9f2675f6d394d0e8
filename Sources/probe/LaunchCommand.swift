import Glibc
import NamespaceProbe
import IsolationSelector
import IsolationLauncher

/// `probe launch`: parse, find the verified facts, plan, launch, report. Exit codes follow
/// env(1) and timeout(1): the command's own status, 124 time limit, 125 the launcher failed,
/// 126 not executable, 127 not found.
enum LaunchCommand {
    struct Options {
        var tenant: String?
        var backend: Backend?
        var from: String?
        var workspaceRoot: String?
        var network: LaunchPlan.Network?
        var env: [String] = []
        var timeLimitMillis: Int?
        var limits = LaunchRequest.defaultLimits
        var readOnlyBinds: [String] = []
        var statusFD: Int32?
        var statusPath: String?
        var uidRange = LaunchRequest.defaultUIDRange
        var tcpConnectPorts: [UInt16] = []
        var command: [String] = []
        var showHelp = false
    }

    static func run(_ args: [String]) -> Int32 {
        let o: Options
        do { o = try parse(args) } catch {
            Console.error("probe launch: \(error)")
            return 125
        }
        if o.showHelp { print(help); return 0 }
        scrubCommandLine()
        let inherited = environment()
        do {
            guard let tenantText = o.tenant else { throw UsageError("--tenant ID is required (see probe launch --help)") }
            guard !o.command.isEmpty else { throw UsageError("give the command after -- (see probe launch --help)") }
            if let fd = o.statusFD, fcntl(fd, F_GETFD) < 0 { throw UsageError("--status-fd \(fd) is not an open descriptor") }
            let tenant = try TenantID(tenantText)
            let facts = try verifiedFacts(o, inherited)
            let plan = try LaunchPlan.make(requested: o.backend, network: o.network, facts: facts, launcherUID: geteuid())
            let request = LaunchRequest(tenant: tenant, backend: o.backend,
                                        workspaceRoot: o.workspaceRoot ?? inherited["ISOLATION_WORKSPACE_ROOT"] ?? "/workspaces",
                                        network: o.network, env: o.env, timeLimitMillis: o.timeLimitMillis, limits: o.limits,
                                        readOnlyBinds: o.readOnlyBinds, uidRange: o.uidRange,
                                        tcpConnectPorts: o.tcpConnectPorts.isEmpty ? [443] : o.tcpConnectPorts, command: o.command)
            for line in NetworkExposure.reopened(plan) { Console.error("probe launch: \(plan.backend.name) leaves open: \(line)") }
            let result = Launcher.run(request, plan: plan, facts: facts, inherited: inherited)
            if let message = result.message { Console.error("probe launch: \(message)") }
            writeStatus(result.status, o)
            return result.exitCode
        } catch {
            Console.error("probe launch: \(error)")
            emitStatus(LaunchStatus.refusedJSON(tenant: o.tenant, backend: o.backend?.name, cause: "\(error)"), o)
            return 125
        }
    }

    /// --backend with ISOLATION_* from the environment, else --from, else a probe run now.
    static func verifiedFacts(_ o: Options, _ env: [String: String]) throws -> VerifiedFacts {
        if o.from == nil, env["ISOLATION_BACKEND"] != nil {
            return try VerifiedFacts.parse(env.filter { $0.key.hasPrefix("ISOLATION_") }, source: "ISOLATION_* in the environment")
        }
        if let path = o.from {
            let report = try ReportFile.load(path).report
            return try VerifiedFacts.from(Selector.select(report), source: path)
        }
        Console.error("probe launch: no ISOLATION_BACKEND in the environment and no --from: probing this container now (export the values of `probe --format env` at start to skip this)")
        let report = try Prober.run()
        return try VerifiedFacts.from(Selector.select(report), source: "a probe run at launch")
    }

    static func writeStatus(_ status: LaunchStatus, _ o: Options) { emitStatus(status.json(), o) }

    /// One JSON object to --status-fd and --status, whichever were given.
    static func emitStatus(_ json: JSON, _ o: Options) {
        let text = json.serialized(pretty: false) + "\n"
        if let fd = o.statusFD {
            let bytes = Array(text.utf8)
            var offset = 0
            while offset < bytes.count {
                let n = bytes[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { Console.error("probe launch: writing the status to fd \(fd): \(Errno.current)"); break }
                offset += n
            }
        }
        if let path = o.statusPath {
            do { try Console.emit(text, to: path) } catch { Console.error("probe launch: \(error)") }
        }
    }

    /// Zeroes the arguments after `probe launch` in this process's own argv memory, which is
    /// what /proc/PID/cmdline shows: without a pid namespace of their own, other tenants can
    /// read that file, and it names the tenant, its workspace and any --env NAME=VALUE. (A
    /// reader fast enough can still see it in the first milliseconds: secrets belong in
    /// --env NAME.)
    static func scrubCommandLine() {
        let argc = Int(CommandLine.argc)
        guard argc > 2 else { return }
        for i in 2..<argc {
            guard let arg = CommandLine.unsafeArgv[i] else { continue }
            memset(arg, 0, strlen(arg))
        }
    }

    static func environment() -> [String: String] {
        var env: [String: String] = [:]
        var p = environ
        while let entry = p.pointee {
            let text = String(cString: entry)
            if let eq = text.firstIndex(of: "=") { env[String(text[..<eq])] = String(text[text.index(after: eq)...]) }
            p += 1
        }
        return env
    }

    static func parse(_ args: [String]) throws -> Options {
        var o = Options()
        var c = ArgumentCursor(args, help: "probe launch --help")
        while let flag = c.next() {
            if flag == "--" { o.command = c.rest(); break }
            func v() throws -> String { try c.value() }
            switch flag {
            case "-h", "--help": o.showHelp = true
            case "--tenant": o.tenant = try v()
            case "--backend": o.backend = try Backend.parse(try v())
            case "--from": o.from = try v()
            case "--workspace-root": o.workspaceRoot = try v()
            case "--network":
                let text = try v()
                guard let n = LaunchPlan.Network(rawValue: text) else { throw UsageError("--network takes none or shared, got '\(text)'") }
                o.network = n
            case "--env": o.env.append(try v())
            case "--time-limit":
                let text = try v()
                guard let s = Double(text), s > 0, s <= 86400 else { throw UsageError("--time-limit takes seconds between 0 and 86400, got '\(text)'") }
                o.timeLimitMillis = max(1, Int(s * 1000))
            case "--limit": o.limits = try parseLimits(try v(), o.limits)
            case "--ro-bind":
                let path = try v()
                guard path.hasPrefix("/") else { throw UsageError("--ro-bind takes an absolute path, got '\(path)'") }
                o.readOnlyBinds.append(path)
            case "--status-fd":
                let text = try v()
                guard let fd = Int32(text), fd >= 0 else { throw UsageError("--status-fd takes a descriptor number, got '\(text)'") }
                o.statusFD = fd
            case "--status": o.statusPath = try v()
            case "--uid-range":
                let text = try v()
                let parts = text.split(separator: "-").compactMap { UInt32($0) }
                guard parts.count == 2, parts[0] >= 1000, parts[0] <= parts[1] else {
                    throw UsageError("--uid-range takes FIRST-LAST with 1000 <= FIRST <= LAST, got '\(text)'")
                }
                o.uidRange = parts[0]...parts[1]
            case "--tcp-connect":
                let text = try v()
                guard let port = UInt16(text), port > 0 else { throw UsageError("--tcp-connect takes a port number, got '\(text)'") }
                o.tcpConnectPorts.append(port)
            default:
                throw UsageError("unknown option '\(c.current)' (see probe launch --help; the command goes after --)")
            }
        }
        return o
    }

    /// `nproc=N,nofile=N,fsize=BYTES,as=BYTES`; BYTES may end in K, M or G; `unlimited`.
    static func parseLimits(_ text: String, _ base: ProcessHygiene.Limits) throws -> ProcessHygiene.Limits {
        var l = base
        for item in text.split(separator: ",") {
            let kv = item.split(separator: "=", maxSplits: 1).map(String.init)
            guard kv.count == 2 else { throw UsageError("--limit takes NAME=VALUE items, got '\(item)'") }
            var value: UInt64?
            if kv[1] != "unlimited" {
                var digits = kv[1]
                var scale: UInt64 = 1
                if let last = digits.last, let s = ["K": UInt64(1) << 10, "M": 1 << 20, "G": 1 << 30][String(last).uppercased()] {
                    scale = s
                    digits.removeLast()
                }
                guard let n = UInt64(digits) else { throw UsageError("--limit \(kv[0]): '\(kv[1])' is not a number") }
                value = n * scale
            }
            switch kv[0] {
            case "nproc": l.nproc = value
            case "nofile": l.nofile = value
            case "fsize": l.fsize = value
            case "as": l.addressSpace = value
            default: throw UsageError("--limit knows nproc, nofile, fsize and as, got '\(kv[0])'")
            }
        }
        return l
    }

    static let help = """
    OVERVIEW: Run one tenant's command under the isolation the probe verified here, from the
    same step functions the probe checked. When a layer cannot be applied the command does
    not run (exit 125): never a silent downgrade.

    USAGE: probe launch --tenant <id> [options] -- <command> [<argument>...]

    WHICH ISOLATION:
      --backend <name>        namespaces, namespaces-shared-proc, landlock, uid or
                              directories. Must be among those verified here. Default:
                              ISOLATION_BACKEND from the environment.
      --from <report.json>    Take the verified facts from a saved `probe --json` report.
                              Without it and without ISOLATION_* in the environment, the
                              launcher probes now (and says so on stderr).
      --network <mode>        none (namespace backends' default: a network namespace with
                              loopback only) or shared (the container's network; the only
                              mode of landlock, uid and directories). What shared leaves
                              open is printed on stderr at every launch.

    THE TENANT:
      --tenant <id>           [a-z0-9][a-z0-9_-]{0,62}. Required.
      --workspace-root <dir>  Default ISOLATION_WORKSPACE_ROOT, else /workspaces. Must exist
                              and not be writable by group or others. The workspace
                              <dir>/<id> is made 0700; HOME is <dir>/<id>/.home, TMPDIR
                              <dir>/<id>/.tmp (/tmp, a private tmpfs, in a namespace).
      --env <name>[=<value>]  Pass a variable (repeatable). Nothing else is inherited but
                              PATH (fixed), HOME, TMPDIR, PWD, USER, LOGNAME, LANG, LC_*.
                              Pass secrets as --env NAME (copied from the launcher's
                              environment): NAME=VALUE sits in the launcher's command
                              line, which a tenant without a pid namespace of its own
                              can read in /proc while the launcher starts (it zeroes
                              it after parsing; a polling tenant still sees it).
      --ro-bind <path>        Also visible read-only (namespace root, Landlock rules).
      --uid-range <a>-<b>     Per-tenant uids (default 100000-199999), recorded for good in
                              <dir>/.tenant-uids. Each workspace root has its own
                              registry: give two roots on one host disjoint ranges.
      --tcp-connect <port>    Landlock ABI >= 4: the TCP ports the tenant may connect to
                              (repeatable; default 443). Binding is always denied.

    LIMITS:
      --time-limit <seconds>  Kill the tenant's whole process tree then (exit 124).
      --limit <list>          nproc=N,nofile=N,fsize=BYTES,as=BYTES (K, M, G suffixes,
                              or unlimited). Defaults: nproc=1024, nofile=4096,
                              fsize=4G, as unlimited; core dumps off.

    REPORTING:
      --status-fd <n>         Write one JSON object (schema launch-status/1: backend, every
      --status <file>         layer with its evidence, tenant uid, namespaces, steps, time
                              spent) to descriptor <n> or atomically to <file> at the end.
      -h, --help              Show this help.

    EXIT CODES:
      the command's own status (128+N when it died from signal N)
      124  the time limit was reached
      125  the launcher failed: bad usage, or a layer could not be applied (the message
           names the step, errno and cause); the command did not run
      126  the command was found but could not be executed
      127  the command was not found
    """
}
