import Glibc
import NamespaceProbe

/// What the verifier tells B: the canaries as values to look for, where A said it put them,
/// and the facts B needs to run `kill(-1)` only where it cannot reach outside B.
public struct Brief {
    public var canaries: Canaries
    public var planted: Planted
    /// Workspace root and tenant A's name (B lists the root looking for it).
    public var root: String
    public var tenantA: String
    /// The server's credentials file beside the workspaces (A11).
    public var serverCredentials: String
    /// A's pid as the verifier sees it (B tries it for ptrace and signals).
    public var hostPidA: Int32
    public var verifierUid: UInt32
    public var verifierPidNamespace: UInt64
    /// The server's loopback TCP port.
    public var serverPort: Int
    /// The verifier's pid in its own namespace.
    public var verifierPid: Int32
    /// What the launch plan guarantees confines `kill(-1)` (`pid namespace`, `per-tenant
    /// uid`), nil when nothing does. B still checks it itself before running it.
    public var killAllConfinedBy: String?

    public var json: JSON {
        .object([("canaries", canaries.json), ("planted", planted.json), ("root", .string(root)), ("tenant_a", .string(tenantA)),
                 ("server_credentials", .string(serverCredentials)), ("host_pid_a", .int(Int64(hostPidA))),
                 ("verifier_uid", .int(Int64(verifierUid))), ("verifier_pid_ns", .int(Int64(bitPattern: verifierPidNamespace))),
                 ("server_port", .int(Int64(serverPort))), ("verifier_pid", .int(Int64(verifierPid))),
                 ("kill_all_confined_by", .optional(killAllConfinedBy))])
    }

    public init(canaries: Canaries, planted: Planted, root: String, tenantA: String, serverCredentials: String,
                hostPidA: Int32, verifierUid: UInt32, verifierPidNamespace: UInt64, serverPort: Int,
                verifierPid: Int32, killAllConfinedBy: String?) {
        (self.canaries, self.planted, self.root, self.tenantA, self.serverCredentials) = (canaries, planted, root, tenantA, serverCredentials)
        (self.hostPidA, self.verifierUid, self.verifierPidNamespace, self.serverPort) = (hostPidA, verifierUid, verifierPidNamespace, serverPort)
        (self.verifierPid, self.killAllConfinedBy) = (verifierPid, killAllConfinedBy)
    }

    public init(json: JSON) throws {
        guard let c = json["canaries"], let p = json["planted"], let root = json["root"]?.string, let a = json["tenant_a"]?.string,
              let cred = json["server_credentials"]?.string, let pid = json["host_pid_a"]?.int, let uid = json["verifier_uid"]?.int,
              let ns = json["verifier_pid_ns"]?.int, let port = json["server_port"]?.int,
              let vpid = json["verifier_pid"]?.int else { throw ProbeError("tenant B: incomplete brief") }
        self.init(canaries: try Canaries(json: c), planted: try Planted(json: p), root: root, tenantA: a, serverCredentials: cred,
                  hostPidA: Int32(pid), verifierUid: UInt32(uid), verifierPidNamespace: UInt64(bitPattern: ns), serverPort: Int(port),
                  verifierPid: Int32(vpid), killAllConfinedBy: json["kill_all_confined_by"]?.string)
    }
}

/// Tenant B: reads the brief on stdin, runs the battery, writes one JSON line of observations.
public enum TenantB {
    public static func run() -> Int32 {
        signal(SIGPIPE, SIG_IGN)
        // Descriptors first: anything B opens itself must not be mistaken for an inherited one.
        let inherited = Battery.inheritedDescriptors()
        var line = LineReader(fd: 0)
        let brief: Brief
        do {
            guard let text = line.next() else { throw ProbeError("stdin ended") }
            brief = try Brief(json: JSON.parse(text))
        } catch {
            TenantLog.error("tenant B: expected the brief on stdin: \(error)")
            return 125
        }
        let observations = Battery(brief).run(inherited: inherited)
        Sys.writeAll(1, JSON.array(observations.map(\.json)).serialized(pretty: false) + "\n")
        return 0
    }
}

/// The rlimits the verifier asks `probe launch` for (`--limit`), which B's A32 and A33 test.
public enum VerifyLimits {
    public static let nproc = 64
    /// Bytes (RLIMIT_FSIZE).
    public static let fileSize = 4 << 20
}
