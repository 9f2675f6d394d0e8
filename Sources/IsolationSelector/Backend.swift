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

    /// What it stops, in one line.
    public var protects: String {
        switch self {
        case .namespaces:
            return "a tenant sees only its own files, processes, network, IPC and hostname, with its own /proc"
        case .namespacesSharedProc:
            return "as namespaces, except /proc is the container's: tenants do not see each other's files, network or IPC"
        case .landlock:
            return "the kernel refuses file access outside the tenant's directory, for every program the tenant runs"
        case .uid:
            return "the kernel refuses each tenant's uid the other tenants' 0700 directories, for every program it runs"
        case .directories:
            return "an agent that stays inside its own tools and directory"
        }
    }

    /// What it does not stop, in one line.
    public var doesNotProtect: String {
        switch self {
        case .namespaces:
            return "kernel exploits and resource exhaustion (one kernel is shared; add cgroup limits)"
        case .namespacesSharedProc:
            return "reading other processes' command lines and environments through /proc; kernel exploits"
        case .landlock:
            return "seeing other tenants' processes, network and IPC; signals to processes of the same uid"
        case .uid:
            return "world-readable files, other tenants' processes in ps, shared network and /tmp if left open"
        case .directories:
            return "any interpreter the agent runs (python, node, bash) reads whatever the shared uid can read: no kernel-enforced isolation"
        }
    }
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
