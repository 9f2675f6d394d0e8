import NamespaceProbe

/// The machine-wide Claude Code policy (`/etc/claude-code/managed-settings.json` on Linux):
/// what holds for every tenant, in the one settings file a tenant cannot rewrite when the image
/// is built as root and the agent runs as another uid (AGENT-POLICY.md §2.9, §6.1).
/// Managed settings sit above `--settings` and above every other source; their deny lists
/// merge with the per-tenant file's, and deny wins.
public enum ManagedPolicy {
    /// Claude Code from which a Read deny also blocks Edit and Write on the path (2.1.228).
    public static let minimumVersion = "2.1.228"

    /// Deny rules true in every tier: /proc, the server's directories, WebFetch (it runs in
    /// the agent's own process and reaches localhost), every MCP tool, `/cd`, and the sandbox
    /// escape hatch of the Bash tool.
    public static func deny(protectedPaths: [AbsolutePath]) throws -> [PermissionRule] {
        var deny = [PermissionRule.read(try AbsolutePath("/proc")), .edit(try AbsolutePath("/proc"))]
        for p in protectedPaths { deny += [.read(p), .edit(p)] }
        return deny + [.tool("WebFetch"), .tool("mcp__*"), .tool("Cd"), .parameter("Bash", "dangerouslyDisableSandbox", "true")]
    }

    public static func settings(protectedPaths: [AbsolutePath]) throws -> JSON {
        .object([
            ("$schema", .string(ClaudeCodePolicy.schemaURL)),
            ("requiredMinimumVersion", .string(minimumVersion)),
            ("allowManagedHooksOnly", .bool(true)),
            ("disableAllHooks", .bool(true)),
            ("disableSkillShellExecution", .bool(true)),
            ("enableAllProjectMcpServers", .bool(false)),
            ("permissions", .object([
                ("disableBypassPermissionsMode", .string("disable")),
                ("disableAutoMode", .string("disable")),
                ("deny", .array(try deny(protectedPaths: protectedPaths).map { .string($0.description) })),
            ])),
        ])
    }
}
