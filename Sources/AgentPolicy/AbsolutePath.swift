/// An absolute, normalised path that can be written into a permission rule unchanged.
///
/// Rules use gitignore pattern syntax (Claude Code permissions docs, "Read and Edit"), so
/// `*`, `?`, `[`, `]`, `!`, `\` and `#` would change what a rule matches, and `(`, `)`
/// or `,` would end the rule or split a `--disallowedTools` list. Such paths are refused,
/// never escaped: a rule that silently matched something else is the failure this avoids.
public struct AbsolutePath: Equatable, CustomStringConvertible {
    /// Always starts with `/`; no empty, `.` or `..` segment; no trailing `/` except for `/`.
    public let value: String
    public var description: String { value }

    public init(_ text: String) throws {
        guard text.hasPrefix("/") else { throw PolicyError("'\(text)' is not an absolute path") }
        let forbidden: Set<Character> = ["*", "?", "[", "]", "!", "\\", "#", "(", ")", ",", " ", "\t", "\n", "\"", "'", "~", "$"]
        if let c = text.first(where: { forbidden.contains($0) || $0.asciiValue.map { $0 < 0x20 || $0 == 0x7F } == true }) {
            throw PolicyError("path '\(text)' contains '\(c)', which permission rules would read as pattern syntax; use a path without it")
        }
        let segments = text.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
        if text != "/" {
            for s in segments where s.isEmpty || s == "." || s == ".." {
                throw PolicyError("path '\(text)' is not normalised (empty, '.' or '..' segment); give it as /a/b")
            }
        }
        value = text
    }

    /// `self/component`, the component checked like a whole path.
    public func appending(_ component: String) throws -> AbsolutePath {
        try AbsolutePath(value == "/" ? "/" + component : value + "/" + component)
    }

    /// The rule form of the whole subtree: `//abs/path/**`. A leading `//` anchors at the
    /// filesystem root; one `/` would anchor at the settings file's directory.
    public var subtreePattern: String { value == "/" ? "//**" : "/" + value + "/**" }
}
