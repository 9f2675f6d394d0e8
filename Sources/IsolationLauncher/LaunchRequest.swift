import Glibc
import NamespaceProbe
import IsolationSelector

/// What the caller asked for, validated (`probe launch` options).
public struct LaunchRequest {
    public var tenant: TenantID
    public var backend: Backend?
    public var workspaceRoot: String
    public var network: LaunchPlan.Network?
    /// `NAME` or `NAME=VALUE`, in order.
    public var env: [String]
    public var timeLimitMillis: Int?
    public var limits: ProcessHygiene.Limits
    public var readOnlyBinds: [String]
    public var uidRange: ClosedRange<UInt32>
    public var tcpConnectPorts: [UInt16]
    public var command: [String]

    /// Defaults (README): a tenant gets 1024 processes of its uid, 4096 descriptors, 4 GiB
    /// files; no address-space limit (V8 and the JVM reserve large ranges up front).
    public static let defaultLimits = ProcessHygiene.Limits(nproc: 1024, nofile: 4096, fsize: 4 << 30, addressSpace: nil)
    public static let defaultUIDRange: ClosedRange<UInt32> = 100_000...199_999

    public init(tenant: TenantID, backend: Backend? = nil, workspaceRoot: String, network: LaunchPlan.Network? = nil,
                env: [String] = [], timeLimitMillis: Int? = nil, limits: ProcessHygiene.Limits = LaunchRequest.defaultLimits,
                readOnlyBinds: [String] = [], uidRange: ClosedRange<UInt32> = LaunchRequest.defaultUIDRange,
                tcpConnectPorts: [UInt16] = [443], command: [String]) {
        self.tenant = tenant
        self.backend = backend
        self.workspaceRoot = workspaceRoot
        self.network = network
        self.env = env
        self.timeLimitMillis = timeLimitMillis
        self.limits = limits
        self.readOnlyBinds = readOnlyBinds
        self.uidRange = uidRange
        self.tcpConnectPorts = tcpConnectPorts
        self.command = command
    }
}
