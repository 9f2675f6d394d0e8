import IsolationSelector

enum OutputFormat: String, CaseIterable { case human, matrix, json, env, nfd, prometheus }

/// Parsed command line. Errors are UsageError (exit 2) with a message that says what to do.
struct Options {
    var format: OutputFormat = .human
    var selectOnly = false
    var require: Backend?
    var exclude: Set<Backend> = []
    var timeoutMillis = 5000
    var outputPath: String?
    var fromReport: String?
    var color: Bool?
    var showHelp = false
    var showVersion = false
    /// `probe matrix FILE...`: merge saved reports into one table.
    var matrixFiles: [String]?

    static func parse(_ args: [String]) throws -> Options {
        var o = Options()
        var i = 0
        func value(_ flag: String) throws -> String {
            i += 1
            guard i < args.count else { throw UsageError("\(flag) needs a value (see probe --help)") }
            return args[i]
        }
        if args.first == "matrix" {
            o.matrixFiles = []
            i = 1
        }
        while i < args.count {
            let arg = args[i]
            var flag = arg
            var inline: String?
            if arg.hasPrefix("--"), let eq = arg.firstIndex(of: "=") {
                flag = String(arg[..<eq])
                inline = String(arg[arg.index(after: eq)...])
            }
            func v() throws -> String { if let inline { return inline }; return try value(flag) }
            switch flag {
            case "-h", "--help": o.showHelp = true
            case "--version": o.showVersion = true
            case "--matrix": o.format = .matrix
            case "--json": o.format = .json
            case "--format":
                let name = try v()
                guard let f = OutputFormat(rawValue: name) else {
                    throw UsageError("unknown format '\(name)'; formats: \(OutputFormat.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                o.format = f
            case "--select": o.selectOnly = true
            case "--require": o.require = try Backend.parse(try v())
            case "--exclude": o.exclude.insert(try Backend.parse(try v()))
            case "--timeout":
                let text = try v()
                guard let seconds = Double(text), seconds > 0, seconds <= 600 else {
                    throw UsageError("--timeout takes seconds between 0 and 600, got '\(text)'")
                }
                o.timeoutMillis = max(1, Int(seconds * 1000))
            case "-o", "--output": o.outputPath = try v()
            case "--from": o.fromReport = try v()
            case "--color": o.color = true
            case "--no-color": o.color = false
            default:
                if o.matrixFiles != nil && !arg.hasPrefix("-") {
                    o.matrixFiles!.append(arg)
                } else {
                    throw UsageError("unknown option '\(arg)' (see probe --help)")
                }
            }
            i += 1
        }
        if let files = o.matrixFiles, files.isEmpty, !o.showHelp {
            throw UsageError("probe matrix needs at least one saved report (probe --json > FILE)")
        }
        if o.matrixFiles != nil, o.format != .json { o.format = .matrix }
        return o
    }

    static let help = """
    OVERVIEW: Measure which Linux isolation primitives really work here, and pick the
    strongest isolation backend for running one agent process per tenant.

    Every probe runs in a throw-away child with a deadline; a verdict is what was observed
    (a new namespace inode, PID 1, a mount the parent cannot see), never a return code.

    USAGE: probe [--matrix | --json | --format <format>] [options]
           probe matrix <report.json>... [--format matrix|json]
                                  (also merges probe verify --json files)
           probe verify [--backend <name> | --all] [--json]
                                  (tenant B attacks tenant A through probe launch,
                                  here; see probe verify --help)
           probe launch --tenant <id> [options] -- <command> [<argument>...]
                                  (run one tenant's command under the verified
                                  isolation; see probe launch --help)
           probe policy --agent claude-code --tenant <id> [options]
                                  (the tenant's agent CLI settings and flags;
                                  see probe policy --help)

    OUTPUT:
      (default)               Short human summary, ending with the selected backend.
      --matrix                Compatibility matrix of this host (same as --format matrix).
      --json                  The whole report, schema 1 (same as --format json).
      --format <format>       human, matrix, json, env (KEY=VALUE lines to source from
                              sh or pass to docker --env-file), nfd (Kubernetes Node
                              Feature Discovery features.d file) or prometheus
                              (node_exporter textfile collector).
      --select                Print only the selected backend's name.
      -o, --output <file>     Write the output to <file> atomically (temporary file in
                              the same directory, then rename).

    SELECTION:
      --require <backend>     Exit 3 with a one-line reason when the strongest available
                              backend is weaker than <backend>.
      --exclude <backend>     Do not select <backend> (repeatable).
                              Backends, strongest first: namespaces,
                              namespaces-shared-proc, landlock, uid, directories.

    OPTIONS:
      --timeout <seconds>     Bound on the whole run (default 5); probes still running
                              then are killed and reported as timeout.
      --from <report.json>    Select and render from a saved report instead of probing.
      --color / --no-color    Force colour on or off (default: on a terminal only, never
                              when NO_COLOR is set).
      --version               Print the version.
      -h, --help              Show this help.

    EXIT CODES:
      0  report produced (and --require met)
      1  the probe itself failed (no scratch directory, unreadable --from file, ...)
      2  usage error (unknown option, unknown backend, bad value)
      3  --require not met: the strongest available backend is weaker
    """
}
