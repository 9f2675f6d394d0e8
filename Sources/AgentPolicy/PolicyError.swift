/// An error in what the caller asked for; the CLI maps it to exit status 2.
public struct PolicyError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
