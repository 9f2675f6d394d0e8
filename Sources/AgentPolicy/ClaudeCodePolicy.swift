import IsolationLauncher
import IsolationSelector
import NamespaceProbe

/// The per-tenant Claude Code policy for one isolation backend: the settings file, the
/// command-line flags and environment that must go with it, and what it cannot do.
///
/// Shape (AGENT-POLICY.md §6): the working directory is the file boundary, because in
/// `dontAsk` anything outside it would need a prompt and is refused; `allow` grants
/// Read/Edit on the tenant's workspace only; `deny` is defence in depth that holds in every
/// mode. "Every workspace but mine" cannot be a deny rule (no exclusions), and listing the
/// other tenants would leak their ids, so the rules never name another tenant.
///
/// The policy is a layer over the kernel backend, never a substitute: rules bind the agent's
/// own tools, not the programs it runs. Under `directories` nothing else binds them.
public struct ClaudeCodePolicy {
    public let tenant: TenantID
    public let backend: Backend
    public let workspaceRoot: AbsolutePath
    /// `<root>/<tenant>`, the launcher's working directory for the tenant.
    public let workspace: AbsolutePath
    /// The server's own directories (config, secrets, state): Read and Edit denied.
    public let protectedPaths: [AbsolutePath]
    public let allow: [PermissionRule]
    /// Empty on purpose: `dontAsk` refuses every ask rule, and ask rules misfire (#83766).
    public let ask: [PermissionRule] = []
    public let deny: [PermissionRule]

    public static let schemaURL = "https://json.schemastore.org/claude-code-settings.json"
    /// Built-in tools the agent gets (`--tools`); WebFetch, WebSearch and the rest do not exist.
    public static let tools = ["Read", "Edit", "Write", "Glob", "Grep", "Bash"]
    /// Commands that run arbitrary code (interpreters, build and package runners, git with
    /// tenant config): denied where no kernel backend confines what they run.
    public static let codeRunners = ["git", "python", "python3", "node", "perl", "ruby", "bash", "sh", "zsh",
                                     "npm", "npx", "yarn", "pnpm", "pip", "pip3", "make", "cargo", "go",
                                     "curl", "wget"]
    /// Development commands allowed where the kernel backend confines whatever they run.
    public static let confinedDevCommands = ["git", "python3", "make", "npm run", "npm test", "pytest"]

    public init(tenant: TenantID, backend: Backend, workspaceRoot: AbsolutePath, protectedPaths: [AbsolutePath] = []) throws {
        self.tenant = tenant
        self.backend = backend
        self.workspaceRoot = workspaceRoot
        self.workspace = try workspaceRoot.appending(tenant.value)
        self.protectedPaths = protectedPaths
        for p in protectedPaths where p == workspaceRoot || workspace.value.hasPrefix(p.value == "/" ? "/" : p.value + "/") {
            throw PolicyError("protected path \(p) contains the tenant's workspace \(workspace); a deny there would deny the workspace itself")
        }

        var allow = [PermissionRule.read(workspace), .edit(workspace)]
        if backend.confinesPrograms {
            allow += Self.confinedDevCommands.map { PermissionRule.bash(prefix: $0) }
        }
        self.allow = allow

        // The machine-wide denies again: the per-tenant file must hold on its own when no
        // managed file was installed.
        var deny = try ManagedPolicy.deny(protectedPaths: protectedPaths)
        if !backend.hidesOtherProcesses {
            deny += ["ps", "pgrep"].map { PermissionRule.bash(prefix: $0) }
        }
        if !backend.confinesPrograms {
            deny += (["kill", "pkill", "env", "printenv"] + Self.codeRunners).map { PermissionRule.bash(prefix: $0) }
        }
        self.deny = deny
    }

    /// The settings file. Validates against the SchemaStore schema (vendored in
    /// tests/data/claude-code-settings.schema.json).
    public var settings: JSON {
        .object([
            ("$schema", .string(Self.schemaURL)),
            ("permissions", .object([
                ("defaultMode", .string("dontAsk")),
                ("disableBypassPermissionsMode", .string("disable")),
                ("disableAutoMode", .string("disable")),
                ("additionalDirectories", .array([])),
                ("allow", .array(allow.map { .string($0.description) })),
                ("ask", .array(ask.map { .string($0.description) })),
                ("deny", .array(deny.map { .string($0.description) })),
            ])),
            ("disableAllHooks", .bool(true)),
            ("disableSkillShellExecution", .bool(true)),
            ("enableAllProjectMcpServers", .bool(false)),
            ("includeGitInstructions", .bool(false)),
            ("autoMemoryEnabled", .bool(false)),
        ])
    }

    /// Flags for `claude -p`, in this order, with the prompt on standard input.
    /// - `--setting-sources ""`: no user, project or local settings. The launcher puts HOME
    ///   inside the workspace, so "user" settings would be tenant-written; their allow rules
    ///   would merge with ours and their hooks and `env` would run.
    /// - `--strict-mcp-config` without `--mcp-config`: no MCP server at all.
    /// - `--disallowedTools`: the deny list again, one comma-separated value (no rule holds a
    ///   comma), a second channel in case the file is skipped as invalid (§2.7). One value,
    ///   not a variadic list, so nothing after it is swallowed as a rule.
    /// - `--permission-mode dontAsk` last: also stated in the file, stated again because the
    ///   flag wins over the file's `defaultMode`.
    public func flags(settingsFile: String) -> [String] {
        ["--settings", settingsFile,
         "--setting-sources", "",
         "--strict-mcp-config",
         "--disable-slash-commands",
         "--no-session-persistence",
         "--tools", Self.tools.joined(separator: ","),
         "--disallowedTools", deny.map(\.description).joined(separator: ","),
         "--permission-mode", "dontAsk"]
    }

    /// Variables for the agent (`probe launch --env NAME=VALUE`), none of them secret.
    public var environment: [(String, String)] {
        [("CLAUDE_CODE_SUBPROCESS_ENV_SCRUB", "1"),           // credentials out of Bash children's env
         ("CLAUDE_CODE_DISABLE_GIT_INSTRUCTIONS", "1"),
         ("CLAUDE_CODE_DISABLE_AUTO_MEMORY", "1"),
         ("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1"),
         ("CLAUDE_BASH_MAINTAIN_PROJECT_WORKING_DIR", "1")]   // every Bash call starts in the workspace
    }

    /// Said every time the policy is produced. Under `directories` the first line is the
    /// warning that no kernel layer exists.
    public var warnings: [String] {
        var w: [String] = []
        if !backend.confinesPrograms {
            w.append("backend directories: no kernel isolation. Any interpreter or build script the agent runs (python, node, bash -c, npm scripts, make, git hooks) reads and writes whatever the server's uid can read, other tenants' workspaces and the server's secrets included. This policy limits an agent that keeps to its own tools, and nothing more.")
        } else {
            w.append("backend \(backend.name): the kernel confines every program the agent runs; these rules are a second layer over it.")
        }
        if !backend.hidesOtherProcesses {
            w.append("other tenants' processes and command lines stay visible in /proc under \(backend.name) (attacks A12, A13); the Bash(ps *) and Read(//proc/**) denies are speed bumps for the agent's tools only.")
        }
        w.append("HOME is inside the workspace: Claude Code sources its shell rc files at start, so tenant-written code runs before any rule is checked (inside whatever the backend confines).")
        return w
    }

    /// What no rule here can prevent (AGENT-POLICY.md §7), short.
    public var cannotPrevent: [String] {
        var c = [
            "code the agent runs is not bound by Read/Edit rules; only the kernel backend binds it",
            "bypasses in Claude Code's Bash command parser (read-only commands run without a prompt in every mode)",
            "resource abuse: CPU, memory, disk and process counts need launcher limits and cgroups",
            "the prompt itself: @file mentions and slash commands are the user's own request",
        ]
        if !backend.confinesPrograms {
            c.insert("reading other tenants' files, the server's secrets and /proc/<pid>/environ of every process of the same uid, from any interpreter", at: 1)
            c.insert("network egress from Bash children, the server's own port on localhost included", at: 2)
        }
        return c
    }
}

extension Backend {
    /// Whether the kernel confines every program the tenant runs (files at least).
    public var confinesPrograms: Bool { self != .directories }
    /// Whether other tenants' processes are invisible (a private /proc).
    public var hidesOtherProcesses: Bool { self == .namespaces }
}
