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
        var c = ArgumentCursor(args, help: "probe --help")
        if args.first == "matrix" {
            o.matrixFiles = []
            _ = c.next()
        }
        while let flag = c.next() {
            let arg = c.current
            func v() throws -> String { try c.value() }
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
