/// Isolation backends a multi-tenant server can use, strongest first.
public enum Backend: String, CaseIterable, Comparable {
    case namespaces
    case namespacesSharedProc = "namespaces-shared-proc"
    case landlock
    case uid
    case directories

    /// Lower is stronger.
    public var strength: Int { Backend.allCases.firstIndex(of: self)! }
    public static func < (a: Backend, b: Backend) -> Bool { a.strength > b.strength }

    public var name: String { rawValue }
}

/// Errors in what the user asked for (exit code 2 in the CLI).
public struct UsageError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

extension Backend {
    /// Parses a user-supplied name; unknown names are a usage error, never a silent default.
    public static func parse(_ name: String) throws -> Backend {
        guard let b = Backend(rawValue: name) else {
            throw UsageError("unknown backend '\(name)'; known backends, strongest first: \(allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return b
    }
}
