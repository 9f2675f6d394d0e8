import Glibc
import AgentPolicy
import IsolationLauncher
import IsolationSelector
import NamespaceProbe

/// `probe policy`: the per-tenant agent CLI policy for the backend in force.
enum PolicyCommand {
    struct Arguments {
        var agent: String?
        var tenant: String?
        var workspaceRoot: String?
        var backend: String?
        var protected: [String] = []
        var output: String?
        var json = false
        var managed = false
        var help = false
    }

    static let help = """
    OVERVIEW: Write the per-tenant settings of an agent CLI (Claude Code) in its real rule
    grammar, and print the flags and environment the server must launch it with.

    The policy is a layer over the isolation backend, never a substitute: its rules bind the
    agent's own tools, not the programs it runs. With the directories backend nothing else
    binds them, and the output says so every time.

    USAGE: probe policy --agent claude-code --tenant <id> [options]
           probe policy --agent claude-code --managed [--protect <dir>]... [--output <file>]

    OPTIONS:
      --agent <name>            The agent CLI: claude-code (the only one so far).
      --tenant <id>             Tenant id, as probe launch takes it: [a-z0-9][a-z0-9_-]{0,62}.
      --workspace-root <dir>    Absolute; the workspace is <dir>/<id> (default:
                                ISOLATION_WORKSPACE_ROOT, else /workspaces).
      --backend <name>          The backend the agent is launched with (default:
                                ISOLATION_BACKEND, else directories: the strictest rules,
                                written for no kernel help).
      --protect <dir>           A server directory (config, secrets, state) the agent's
                                tools may neither read nor edit (repeatable).
      -o, --output <file>       Write the settings file atomically (temporary file, fsync,
                                rename; mode 0644) and print the flags and notes.
      --json                    One JSON object on standard output (schema agent-policy/1):
                                settings, flags, environment, warnings, cannot_prevent.
      --managed                 Instead of a tenant's file: the machine-wide managed
                                settings (/etc/claude-code/managed-settings.json), the rules
                                true for every tenant, for an image built as root.
      -h, --help                Show this help.

    Without --output or --json the settings JSON goes to standard output and the flags and
    warnings to standard error. Pass the prompt on standard input, never in argv: other
    tenants can read /proc/<pid>/cmdline under every backend but namespaces.

    EXIT CODES:
      0  policy produced
      1  the output file could not be written
      2  usage error (unknown option or agent, bad tenant id, backend or path)
    """

    static func run(_ args: [String]) -> Int32 {
        let a: Arguments
        do { a = try parse(args) } catch {
            Console.error("probe policy: \(error)")
            return 2
        }
        if a.help { print(help); return 0 }

        let policy: ClaudeCodePolicy
        var notes: [String] = []
        do {
            guard let agent = a.agent else { throw PolicyError("--agent is required (claude-code)") }
            guard agent == "claude-code" else { throw PolicyError("unknown agent '\(agent)'; known: claude-code") }
            if a.managed { return managed(a) }
            guard let tenantText = a.tenant else { throw PolicyError("--tenant is required") }
            let tenant = try TenantID(tenantText)
            let rootText = a.workspaceRoot ?? environment("ISOLATION_WORKSPACE_ROOT") ?? "/workspaces"
            let root = try AbsolutePath(rootText)
            let backend: Backend
            if let name = a.backend ?? environment("ISOLATION_BACKEND") {
                backend = try Backend.parse(name)
            } else {
                backend = .directories
                notes.append("no --backend and no ISOLATION_BACKEND: rules written for directories, the strictest")
            }
            policy = try ClaudeCodePolicy(tenant: tenant, backend: backend, workspaceRoot: root,
                                          protectedPaths: try a.protected.map(AbsolutePath.init))
        } catch {
            Console.error("probe policy: \(error)")
            return 2
        }

        let settingsText = policy.settings.serialized() + "\n"
        let flags = policy.flags(settingsFile: a.output ?? "SETTINGS_FILE")
        // The warning under directories goes to standard error whatever else is asked for
        // (it is also in the JSON and the summary): a server log must show it.
        let bareSettings = a.output == nil && !a.json
        let onStderr = bareSettings ? policy.warnings : policy.backend.confinesPrograms ? [] : [policy.warnings[0]]
        for line in notes + onStderr { Console.error("probe policy: \(line)") }
        do {
            if let path = a.output { try Console.emit(settingsText, to: path) }
            if a.json {
                try Console.emit(document(policy, flags: flags, settingsFile: a.output).serialized() + "\n", to: nil)
            } else if a.output != nil {
                try Console.emit(summary(policy, flags: flags), to: nil)
            } else {
                try Console.emit(settingsText, to: nil)
                Console.error("probe policy: run the agent as: claude -p \(flags.map(shellQuoted).joined(separator: " ")) < PROMPT")
            }
        } catch {
            Console.error("probe policy: \(error)")
            return 1
        }
        return 0
    }

    /// `--managed`: the machine-wide file; no tenant, no flags.
    static func managed(_ a: Arguments) -> Int32 {
        let text: String
        do {
            guard a.tenant == nil, a.backend == nil, a.workspaceRoot == nil, !a.json else {
                throw PolicyError("--managed takes only --protect and --output: it names no tenant, backend or workspace")
            }
            text = try ManagedPolicy.settings(protectedPaths: try a.protected.map(AbsolutePath.init)).serialized() + "\n"
        } catch {
            Console.error("probe policy: \(error)")
            return 2
        }
        do { try Console.emit(text, to: a.output) } catch {
            Console.error("probe policy: \(error)")
            return 1
        }
        return 0
    }

    static func parse(_ args: [String]) throws -> Arguments {
        var a = Arguments()
        var c = ArgumentCursor(args, help: "probe policy --help")
        while let flag = c.next() {
            func value() throws -> String { try c.value() }
            switch flag {
            case "-h", "--help": a.help = true
            case "--agent": a.agent = try value()
            case "--tenant": a.tenant = try value()
            case "--workspace-root": a.workspaceRoot = try value()
            case "--backend": a.backend = try value()
            case "--protect": a.protected.append(try value())
            case "-o", "--output": a.output = try value()
            case "--json": a.json = true
            case "--managed": a.managed = true
            default: throw PolicyError("unknown option '\(c.current)' (see probe policy --help)")
            }
        }
        return a
    }

    /// Schema agent-policy/1.
    static func document(_ p: ClaudeCodePolicy, flags: [String], settingsFile: String?) -> JSON {
        .object([
            ("schema", .string("agent-policy/1")),
            ("agent", .string("claude-code")),
            ("tenant", .string(p.tenant.value)),
            ("backend", .string(p.backend.name)),
            ("workspace", .string(p.workspace.value)),
            ("settings_file", .optional(settingsFile)),
            ("settings", p.settings),
            ("flags", .array(flags.map(JSON.string))),
            ("environment", .object(p.environment.map { ($0.0, JSON.string($0.1)) })),
            ("prompt", .string("standard input")),
            ("warnings", .array(p.warnings.map(JSON.string))),
            ("cannot_prevent", .array(p.cannotPrevent.map(JSON.string))),
        ])
    }

    static func summary(_ p: ClaudeCodePolicy, flags: [String]) -> String {
        var s = "tenant \(p.tenant) backend \(p.backend.name) workspace \(p.workspace)\n"
        s += "run:  claude -p \(flags.map(shellQuoted).joined(separator: " ")) < PROMPT\n"
        s += "env:  " + p.environment.map { "\($0.0)=\($0.1)" }.joined(separator: " ") + "\n"
        for w in p.warnings { s += "note: \(w)\n" }
        for c in p.cannotPrevent { s += "cannot prevent: \(c)\n" }
        return s
    }

    static func shellQuoted(_ s: String) -> String {
        let plain = !s.isEmpty && s.allSatisfy { $0.isLetter || $0.isNumber || "-_./=,:@%+".contains($0) }
        return plain ? s : "'" + s.split(separator: "'", omittingEmptySubsequences: false).joined(separator: "'\\''") + "'"
    }

    static func environment(_ name: String) -> String? {
        guard let v = getenv(name) else { return nil }
        let s = String(cString: v)
        return s.isEmpty ? nil : s
    }
}
