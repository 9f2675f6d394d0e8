/// One Claude Code permission rule: `Tool` or `Tool(specifier)`.
///
/// Grammar (Claude Code docs `permissions`, read through the project brief shared/AGENT-POLICY.md §1):
/// path rules exist only for `Read` and `Edit` and use gitignore syntax (`//abs` = filesystem
/// root, `*` one segment, `**` any depth); `Bash(prefix *)` matches the prefix followed by
/// anything, and also the bare prefix; `Tool(param:value)` matches a top-level parameter (deny
/// and ask only). There is no exclusion (`!`) syntax. Rules are only built through the static
/// constructors, so a rule that exists is well formed.
public struct PermissionRule: Equatable, CustomStringConvertible {
    public let tool: String
    public let specifier: String?
    public var description: String { specifier.map { "\(tool)(\($0))" } ?? tool }

    private init(_ tool: String, _ specifier: String?) {
        self.tool = tool
        self.specifier = specifier
    }

    /// A whole tool: as a deny rule it removes the tool from the model's context.
    public static func tool(_ name: String) -> PermissionRule { PermissionRule(name, nil) }

    /// `Read(//path/**)`: also gates Grep, Glob and `@file`, and Claude Code's recognised
    /// Bash readers (`cat`, `head`, `grep`...), never interpreters.
    public static func read(_ path: AbsolutePath) -> PermissionRule { PermissionRule("Read", path.subtreePattern) }

    /// `Edit(//path/**)`: covers Edit, Write and NotebookEdit (`Write(path)` rules are never consulted).
    public static func edit(_ path: AbsolutePath) -> PermissionRule { PermissionRule("Edit", path.subtreePattern) }

    /// `Bash(command *)`: the command word(s), then anything. `command` is plain words.
    public static func bash(prefix command: String) -> PermissionRule { PermissionRule("Bash", command + " *") }

    /// `Tool(parameter:value)`, e.g. `Bash(dangerouslyDisableSandbox:true)`.
    public static func parameter(_ tool: String, _ name: String, _ value: String) -> PermissionRule {
        PermissionRule(tool, "\(name):\(value)")
    }

    /// Tools whose rules may carry a path: the only two Claude Code consults.
    public static let pathTools: Set<String> = ["Read", "Edit"]
    /// Tools whose path rules Claude Code never consults (warning since v2.1.210).
    public static let ignoredPathTools: Set<String> = ["Write", "Glob", "NotebookEdit", "MultiEdit"]
    /// Top-level parameters a `Tool(param:value)` rule may name.
    public static let parameterNames: Set<String> = ["dangerouslyDisableSandbox", "run_in_background"]

    /// What is wrong with a rule written as text, judged against the grammar above; empty
    /// when nothing is. Used by the tests on every generated rule, and usable on hand-written
    /// settings (the seed document's rules each produce at least one problem).
    public static func problems(_ rule: String) -> [String] {
        var found: [String] = []
        if rule.contains("!") { found.append("'!' is not exclusion syntax: a deny rule cannot carry allow exceptions") }
        guard let open = rule.firstIndex(of: "(") else {
            if rule.contains(")") { found.append("unbalanced ')'") }
            return found
        }
        guard rule.hasSuffix(")") else { return found + ["a rule is Tool or Tool(specifier); text after ')'"] }
        let tool = String(rule[..<open])
        let spec = String(rule[rule.index(after: open)..<rule.index(before: rule.endIndex)])
        if spec.isEmpty { found.append("empty specifier") }
        if spec.contains(")") || spec.contains("(") { found.append("parentheses inside the specifier") }
        if ignoredPathTools.contains(tool) {
            found.append("\(tool)(...) path rules are never consulted; use Edit(...)")
        }
        if pathTools.contains(tool) {
            if spec.hasPrefix("/") && !spec.hasPrefix("//") {
                found.append("'\(spec)' starts with one '/': relative to the settings file, not the filesystem root; write '/\(spec)'")
            }
            if spec.contains(":") { found.append("':' in a path rule is literal") }
        }
        if tool == "Bash", let colon = spec.firstIndex(of: ":") {
            let name = String(spec[..<colon])
            let trailingStar = spec.hasSuffix(":*") && spec.firstIndex(of: ":") == spec.index(spec.endIndex, offsetBy: -2)
            if !trailingStar && !parameterNames.contains(name) {
                found.append("':' is special only as a trailing ':*'; 'Bash(\(spec))' matches that literal text")
            }
        }
        return found
    }
}
