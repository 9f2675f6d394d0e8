import Glibc
import NamespaceProbe
import IsolationSelector

/// The one JSON object `--status-fd`/`--status` receive at the end of a launch (schema
/// "launch-status/1"), like bubblewrap's --json-status-fd: what was applied, with the
/// evidence of each layer, for the server's logs.
public struct LaunchStatus {
    public static let schema = "launch-status/1"

    public var tenant: String
    public var backend: String
    public var network: String
    public var factsSource: String
    public var workspace: String?
    public var home: String?
    public var tmpdir: String?
    public var tenantUID: UInt32?
    public var namespaces: [String]
    public var steps: [Step] = []
    public var reopened: [String]
    public var commandStarted = false
    public var exitStatus: Int32?
    public var failedStep: String?
    public var errno: String?
    public var cause: String?
    public var setupMicros: Int64?
    public var totalMicros: Int64 = 0
    let plan: LaunchPlan

    init(request: LaunchRequest, plan: LaunchPlan, facts: VerifiedFacts) {
        tenant = request.tenant.value
        backend = plan.backend.name
        network = plan.network.rawValue
        factsSource = facts.source
        namespaces = (plan.userNamespace ? ["user"] : []) + plan.namespaces.map(\.rawValue)
        reopened = NetworkExposure.reopened(plan)
        self.plan = plan
    }

    mutating func area(_ area: TenantArea, tenantIDs: (uid: uid_t, gid: gid_t)?) {
        workspace = area.workspace
        home = area.home
        tmpdir = plan.usesNamespaces ? "/tmp" : area.tmp
        tenantUID = tenantIDs.map { UInt32($0.uid) }
    }

    mutating func refusal(_ r: LaunchRefusal) {
        switch r {
        case .usage(let text): failure(step: "check the request", errno: nil, cause: text)
        case .isolation(let step, let errno, let cause): failure(step: step, errno: errno, cause: cause)
        }
        exitStatus = 125
    }

    mutating func failure(step: String, errno: String?, cause: String) {
        failedStep = step
        self.errno = errno
        self.cause = cause
    }

    /// Each layer with whether its step was observed to work, and that step's evidence.
    public var layers: [(name: String, applied: Bool, evidence: String)] {
        func layer(_ name: String, _ wanted: Bool, _ matches: (String) -> Bool) -> (String, Bool, String)? {
            guard wanted else { return nil }
            guard let s = steps.last(where: { matches($0.name) }) else { return (name, false, "not reached") }
            let ok = s.outcome == .ok
            return (name, ok, ok ? (s.detail ?? s.name) : "\(s.name): \(s.errno?.name ?? "") \(s.detail ?? "")")
        }
        let ns = plan.usesNamespaces
        return [
            layer("user namespace", plan.userNamespace) { $0 == "write /proc/self/gid_map" },
            layer("namespaces \(plan.namespaces.map(\.rawValue).joined(separator: ","))", ns) { $0.hasPrefix("unshare(CLONE_NEWPID") },
            layer("PID 1 of its own pid namespace", ns) { $0 == "fork PID 1" },
            layer("tenant root (read-only system directories, private /tmp and /dev)", ns) { $0 == "make / read-only" },
            layer(plan.proc == .fresh ? "fresh /proc" : "container's /proc", ns) { $0 == SandboxRoot.freshProcStep || $0 == SandboxRoot.containerProcStep },
            layer("loopback only", ns && plan.network == .none) { $0 == "loopback carries a UDP datagram" },
            layer("per-tenant uid", plan.perTenantUID) { $0 == "real, effective and saved uid switched" },
            layer("new session (setsid)", true) { $0 == "setsid" },
            layer("resource limits", true) { $0 == "setrlimit" },
            layer("descriptors above 2 closed", true) { $0 == "mark descriptors above 2 close-on-exec" },
            layer("no_new_privs", true) { $0 == "prctl(PR_SET_NO_NEW_PRIVS)" },
            layer("capabilities dropped", true) { $0 == "drop capabilities" },
            layer("landlock ABI \(plan.landlockABI ?? 0)", plan.landlockABI != nil) { $0 == "landlock_restrict_self" },
            layer("seccomp filter", plan.seccompFilter) { $0 == "the filter answers EPERM (ioctl TIOCSTI)" },
        ].compactMap { $0.map { (name: $0.0, applied: $0.1, evidence: $0.2) } }
    }

    /// The status of a launch refused before any plan existed (bad usage, an unverified
    /// backend): the same keys, most of them null.
    public static func refusedJSON(tenant: String?, backend: String?, cause: String) -> JSON {
        .object([
            ("schema", .string(schema)), ("tenant", .optional(tenant)), ("backend", .optional(backend)), ("network", .null),
            ("verified_by", .null), ("workspace", .null), ("home", .null), ("tmpdir", .null), ("tenant_uid", .null),
            ("namespaces", .array([])), ("layers", .array([])), ("steps", .array([])), ("reopened", .array([])),
            ("command_started", .bool(false)), ("exit_status", .int(125)), ("failed_step", .string("check the request")),
            ("errno", .null), ("cause", .string(cause)), ("setup_micros", .null), ("total_micros", .int(0)),
        ])
    }

    public func json() -> JSON {
        .object([
            ("schema", .string(Self.schema)),
            ("tenant", .string(tenant)),
            ("backend", .string(backend)),
            ("network", .string(network)),
            ("verified_by", .string(factsSource)),
            ("workspace", .optional(workspace)),
            ("home", .optional(home)),
            ("tmpdir", .optional(tmpdir)),
            ("tenant_uid", tenantUID.map { .int(Int64($0)) } ?? .null),
            ("namespaces", .array(namespaces.map(JSON.string))),
            ("layers", .array(layers.map { .object([("name", .string($0.name)), ("applied", .bool($0.applied)), ("evidence", .string($0.evidence))]) })),
            ("steps", .array(steps.map { s in
                .object([("name", .string(s.name)), ("outcome", .string(s.outcome.rawValue)), ("errno", .optional(s.errno?.name)),
                         ("detail", .optional(s.detail))])
            })),
            ("reopened", .array(reopened.map(JSON.string))),
            ("command_started", .bool(commandStarted)),
            ("exit_status", exitStatus.map { .int(Int64($0)) } ?? .null),
            ("failed_step", .optional(failedStep)),
            ("errno", .optional(errno)),
            ("cause", .optional(cause)),
            ("setup_micros", setupMicros.map { .int($0) } ?? .null),
            ("total_micros", .int(totalMicros)),
        ])
    }
}

/// What `--network shared` (and a Landlock ABI) leaves open, in words, for stderr and the
/// status: a downgrade is never silent.
public enum NetworkExposure {
    public static func reopened(_ plan: LaunchPlan) -> [String] {
        var open: [String] = []
        if plan.network == .shared {
            let tcp = (plan.landlockABI ?? 0) >= 4 ? "TCP to the ports Landlock allows (--tcp-connect): other tenants' and the server's services on them, loopback included"
                : "loopback TCP and UDP services of the server and other tenants (catalogue A20)"
            open.append(tcp)
            if (plan.landlockABI ?? 0) < 6 { open.append("abstract unix sockets of the server and other tenants (A22)") }
            open.append("the cloud metadata address (169.254.169.254) and the container's whole network")
        }
        if plan.usesNamespaces {
            for kind in [NamespaceKind.ipc, .uts] where !plan.namespaces.contains(kind) {
                open.append("no \(kind.rawValue) namespace (this container refuses it): " + (kind == .ipc
                    ? "SysV IPC and POSIX message queues are shared between tenants (A09)" : "the hostname is shared"))
            }
        }
        if let abi = plan.landlockABI, !plan.usesNamespaces {
            open += LandlockRuleset.leftOpen(abi: abi).filter { !$0.hasPrefix("TCP") || plan.network == .shared }
        }
        if !plan.usesNamespaces {
            open.append("SysV IPC objects: a tenant's outlive its launch and others see them, by their modes (A09)")
        }
        if !plan.usesNamespaces && plan.landlockABI == nil && plan.perTenantUID {
            // A per-tenant uid alone (gVisor as root, for one): file modes are the only wall.
            open.append("the shared /tmp and /dev/shm: whatever a tenant leaves readable there, others read (A08, A09)")
            open.append("other tenants' processes and command lines in /proc (A12, A13)")
            open.append("the names of other tenants in the workspace root, unless its mode is 0711 (A02)")
        }
        if plan.backend == .directories {
            open.append("every file, process and socket the server's uid can reach: any program the tenant runs reads what the server's uid can read")
        }
        return open
    }
}
