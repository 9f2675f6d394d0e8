import IsolationSelector

/// Walks a subcommand's arguments: `--flag value` and `--flag=value` alike, and `--` ending
/// the options. One reader for every subcommand, so they all take the same forms.
struct ArgumentCursor {
    private let args: [String]
    private let help: String
    private var index = 0
    private var inline: String?
    /// The flag `next()` returned last (without `=value`).
    private(set) var flag = ""

    /// `help`: what an error points to, e.g. `probe launch --help`.
    init(_ args: [String], help: String) {
        self.args = args
        self.help = help
    }

    /// The next argument as a flag, or nil at the end.
    mutating func next() -> String? {
        guard index < args.count else { return nil }
        let arg = args[index]
        index += 1
        inline = nil
        flag = arg
        if arg.hasPrefix("--"), let eq = arg.firstIndex(of: "=") {
            flag = String(arg[..<eq])
            inline = String(arg[arg.index(after: eq)...])
        }
        return flag
    }

    /// The value of the flag just read: after `=`, else the next argument.
    mutating func value() throws -> String {
        if let inline { self.inline = nil; return inline }
        guard index < args.count else { throw UsageError("\(flag) needs a value (see \(help))") }
        index += 1
        return args[index - 1]
    }

    /// Every argument after the one just read (what follows `--`), and the end of the walk.
    mutating func rest() -> [String] {
        defer { index = args.count }
        return Array(args[index...])
    }

    /// The argument just read, whole (`--flag=value` as typed).
    var current: String { args[index - 1] }
}
