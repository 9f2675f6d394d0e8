/// A tenant identifier as `probe launch` accepts it: `[a-z0-9][a-z0-9_-]{0,62}` (1 to 63
/// bytes). It names a directory (`<root>/<id>`), appears in rules and in process listings,
/// so it can hold no `/`, `.`, space or glob character.
public struct TenantID: Equatable, CustomStringConvertible {
    public let value: String
    public var description: String { value }

    /// Throws `PolicyError` naming the first offending byte and the accepted alphabet.
    public init(_ text: String) throws {
        let bytes = Array(text.utf8)
        guard !bytes.isEmpty, bytes.count <= 63 else {
            throw PolicyError("tenant id must be 1 to 63 characters of [a-z0-9_-] starting with [a-z0-9], got \(bytes.count) characters")
        }
        func lowerOrDigit(_ b: UInt8) -> Bool { (b >= 0x61 && b <= 0x7A) || (b >= 0x30 && b <= 0x39) }
        for (i, b) in bytes.enumerated() {
            let ok = lowerOrDigit(b) || (i > 0 && (b == UInt8(ascii: "_") || b == UInt8(ascii: "-")))
            guard ok else {
                throw PolicyError("tenant id '\(text)' has '\(Character(Unicode.Scalar(b)))' at position \(i + 1); accepted: [a-z0-9][a-z0-9_-]{0,62}")
            }
        }
        value = text
    }
}

/// An error in what the caller asked for; the CLI maps it to exit status 2.
public struct PolicyError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
