/// Everything one run observed. Schema 1 of the JSON is documented in docs/report-schema.md.
public struct Report: Equatable {
    public static let schemaVersion = 1
    public static let toolVersion = "0.1.0"

    public var schema = Report.schemaVersion
    public var toolVersion = Report.toolVersion
    public var environment: EnvironmentFacts
    public var runtimes: [RuntimeFinding]
    public var namespaces: [NamespaceResult]
    /// Whether unshare(2) rejects a flag it does not take (it must, or return codes mean nothing).
    public var unshareRejectsInvalidFlags: ProbeResult
    public var sandboxChain: ModeResults
    public var capabilities: CapabilitySets
    public var seccompOwnFilter: ProbeResult
    public var seccompListener: ProbeResult
    public var landlockABI: Int?
    public var landlockABIErrno: Errno?
    public var landlockEnforcement: ProbeResult
    public var ptrace: ProbeResult
    public var identitySwitch: ProbeResult
    public var timeoutMillis: Int
    public var durationMicros: Int64

    public init(environment: EnvironmentFacts, runtimes: [RuntimeFinding], namespaces: [NamespaceResult],
                unshareRejectsInvalidFlags: ProbeResult, sandboxChain: ModeResults, capabilities: CapabilitySets,
                seccompOwnFilter: ProbeResult, seccompListener: ProbeResult, landlockABI: Int?, landlockABIErrno: Errno?,
                landlockEnforcement: ProbeResult, ptrace: ProbeResult, identitySwitch: ProbeResult,
                timeoutMillis: Int, durationMicros: Int64) {
        self.environment = environment
        self.runtimes = runtimes
        self.namespaces = namespaces
        self.unshareRejectsInvalidFlags = unshareRejectsInvalidFlags
        self.sandboxChain = sandboxChain
        self.capabilities = capabilities
        self.seccompOwnFilter = seccompOwnFilter
        self.seccompListener = seccompListener
        self.landlockABI = landlockABI
        self.landlockABIErrno = landlockABIErrno
        self.landlockEnforcement = landlockEnforcement
        self.ptrace = ptrace
        self.identitySwitch = identitySwitch
        self.timeoutMillis = timeoutMillis
        self.durationMicros = durationMicros
    }

    public func namespace(_ kind: NamespaceKind) -> NamespaceResult? { namespaces.first { $0.kind == kind } }

    public func runtime(_ name: String) -> RuntimeFinding? { runtimes.first { $0.name == name } }
}

/// A probe tried as the process is, and inside a new user namespace (the rootless way).
public struct ModeResults: Equatable {
    public var asIs: ProbeResult
    public var inUserNamespace: ProbeResult
    public init(asIs: ProbeResult, inUserNamespace: ProbeResult) {
        self.asIs = asIs
        self.inUserNamespace = inUserNamespace
    }
    /// The mode that worked, preferring no user namespace.
    public var usable: ProbeResult? {
        if asIs.verdict == .ok { return asIs }
        if inUserNamespace.verdict == .ok { return inUserNamespace }
        return nil
    }
}

public struct NamespaceResult: Equatable {
    public var kind: NamespaceKind
    public var results: ModeResults
    public init(kind: NamespaceKind, results: ModeResults) {
        self.kind = kind
        self.results = results
    }
    public var asIs: ProbeResult { results.asIs }
    public var inUserNamespace: ProbeResult { results.inUserNamespace }
}
