/// A tenant's name as the launcher accepts it: `[a-z0-9][a-z0-9_-]{0,62}`. Nothing else can
/// name `..`, a slash, a hidden file or an over-long path component, so `<root>/<id>` is
/// always one new directory directly under the workspace root.
public struct TenantID: Equatable, CustomStringConvertible {
    public let value: String
    public var description: String { value }

    public init(_ text: String) throws {
        let bytes = Array(text.utf8)
        func lowerOrDigit(_ b: UInt8) -> Bool { (b >= 0x61 && b <= 0x7A) || (b >= 0x30 && b <= 0x39) }
        guard let first = bytes.first else { throw LaunchRefusal.usage("--tenant is empty; a tenant id matches [a-z0-9][a-z0-9_-]{0,62}") }
        guard bytes.count <= 63 else {
            throw LaunchRefusal.usage("tenant id is \(bytes.count) characters; at most 63 ([a-z0-9][a-z0-9_-]{0,62})")
        }
        guard lowerOrDigit(first), bytes.allSatisfy({ lowerOrDigit($0) || $0 == 0x5F || $0 == 0x2D }) else {
            throw LaunchRefusal.usage("tenant id '\(text)' is not [a-z0-9][a-z0-9_-]{0,62}: no dots, slashes, capitals or a leading '-' or '_'")
        }
        value = text
    }
}

/// Why a launch did not run the command. `usage` is the caller's mistake; `isolation` names
/// the step that could not be applied, with its errno and the likely cause. Both exit 125.
public enum LaunchRefusal: Error, CustomStringConvertible {
    case usage(String)
    case isolation(step: String, errno: String?, cause: String)

    public var description: String {
        switch self {
        case .usage(let text): return text
        case .isolation(let step, let errno, let cause):
            return "isolation could not be applied at '\(step)'\(errno.map { " (\($0))" } ?? ""): \(cause); the command was not run"
        }
    }
}
