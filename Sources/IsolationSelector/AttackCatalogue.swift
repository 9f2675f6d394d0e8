/// The attack catalogue: what tenant B tries against tenant A, and what each backend promises
/// about it. One table feeds both the selection's `protects` / `does not protect` lines and
/// `probe verify`'s expectations, so the words and the test cannot drift apart.
/// Source: the project brief shared/ISOLATION-NOTES.md (catalogue A01..A34), with sub-ids (A01.git) where
/// one catalogue row is checked by more than one attack.

/// What a backend promises about one attack.
public struct Promise: Equatable {
    public enum Kind: String { case blocks, open }
    public let kind: Kind
    /// Why, in a few words: the mechanism that stops it, or what leaves it open.
    public let reason: String
    public var blocks: Bool { kind == .blocks }
    static func blocks(_ reason: String) -> Promise { Promise(kind: .blocks, reason: reason) }
    static func open(_ reason: String) -> Promise { Promise(kind: .open, reason: reason) }
}

/// The isolation a launch actually has: the backend, the network mode and the layers added on
/// top of it (per-tenant uid, Landlock with its ABI, seccomp). The promise depends on all of them:
/// a per-tenant uid under namespaces-shared-proc closes `/proc/<pid>/environ`, Landlock below
/// ABI 4 leaves TCP open (landlock(7): ABI 4 Linux 6.7 TCP, ABI 6 Linux 6.12 scopes).
public struct IsolationContext: Equatable {
    public enum Network: String { case none, shared }
    public var backend: Backend
    public var network: Network
    public var perTenantUid: Bool
    /// The Landlock ABI in force for the tenant, nil when no Landlock layer is applied.
    public var landlockABI: Int?
    public var seccomp: Bool
    /// Namespace kinds the tenant has (`pid`, `mnt`, `net`, `ipc`, `uts`); empty outside the
    /// namespace backends. Containers may refuse some kinds; the launcher then goes without.
    public var namespaces: Set<String>
    /// Under gVisor, whose /proc lets another uid read a process's environ and maps (measured
    /// by probe verify in runsc, where Linux applies the ptrace access check).
    public var gvisor: Bool

    public init(backend: Backend, network: Network? = nil, perTenantUid: Bool? = nil, landlockABI: Int? = nil, seccomp: Bool = true,
                namespaces: Set<String>? = nil, gvisor: Bool = false) {
        self.backend = backend
        self.gvisor = gvisor
        let namespaced = backend == .namespaces || backend == .namespacesSharedProc
        self.network = network ?? (namespaced ? .none : .shared)
        var kinds = namespaces ?? (namespaced ? ["pid", "mnt", "net", "ipc", "uts"] : [])
        if self.network == .shared { kinds.remove("net") }
        self.namespaces = kinds
        self.perTenantUid = perTenantUid ?? (backend == .uid)
        self.landlockABI = landlockABI
        self.seccomp = seccomp
    }

    var namespaced: Bool { backend == .namespaces || backend == .namespacesSharedProc }
    var netNamespace: Bool { namespaced && namespaces.contains("net") }
    var ipcNamespace: Bool { namespaced && namespaces.contains("ipc") }
    func landlock(atLeast abi: Int) -> Bool { (landlockABI ?? 0) >= abi }
    var hasLandlock: Bool { landlockABI != nil }
}

/// One attack of tenant B against tenant A.
public struct Attack {
    public enum Family: String, CaseIterable {
        case files, ipc = "IPC", processes, network, privilege, launcher = "launcher duties", resources
    }
    /// Catalogue id, with a suffix where one row has several checks: `A01`, `A01.git`.
    public let id: String
    public let family: Family
    /// A few words for the selection lines: "read", "hard link".
    public let label: String
    /// What B tries, one line.
    public let tries: String
    let rule: (IsolationContext) -> Promise

    public func promise(_ c: IsolationContext) -> Promise { rule(c) }
}

public enum AttackCatalogue {
    // Shared rules, so one mechanism has one wording.
    static func ownFiles(_ c: IsolationContext) -> Promise {
        if c.namespaced { return .blocks("A's area is not mounted in B's root") }
        if c.hasLandlock { return .blocks("Landlock: outside B's allow-list") }
        if c.perTenantUid { return .blocks("A's area is 0700 and owned by A's uid") }
        return .open("same uid, directories only: no kernel check")
    }

    static func procListing(_ c: IsolationContext) -> Promise {
        if c.backend == .namespaces { return .blocks("fresh /proc of B's pid namespace") }
        if c.backend == .namespacesSharedProc { return .open("the container's /proc lists every process") }
        return .open("/proc lists every process of the container")
    }

    static func procPrivate(_ c: IsolationContext) -> Promise {
        if c.backend == .namespaces { return .blocks("fresh /proc of B's pid namespace") }
        if c.gvisor { return .open("gVisor's /proc skips the ptrace access check for another uid") }
        if c.hasLandlock { return .blocks("Landlock ptrace scope: A is outside B's domain") }
        if c.perTenantUid { return .blocks("ptrace access check: A has another uid") }
        if c.backend == .namespacesSharedProc { return .open("the container's /proc, same uid as A") }
        return .open("same uid as A")
    }

    static func launcher(_ what: String) -> (IsolationContext) -> Promise { { _ in .blocks("launcher: " + what) } }

    public static let attacks: [Attack] = [
        Attack(id: "A01", family: .files, label: "read", tries: "read a file in A's workspace by absolute path", rule: ownFiles),
        Attack(id: "A01.git", family: .files, label: "git repository", tries: "read a file of the git repository in A's workspace", rule: ownFiles),
        Attack(id: "A02", family: .files, label: "list", tries: "list A's workspace", rule: ownFiles),
        Attack(id: "A02.root", family: .files, label: "tenant names", tries: "list the workspace root to learn tenant names", rule: { c in
            if c.namespaced { return .blocks("only B's own workspace is mounted") }
            if c.hasLandlock { return .blocks("Landlock: the root is outside B's allow-list") }
            if c.perTenantUid { return .blocks("the workspace root is 0711: traversable, not listable") }
            return .open("same uid, directories only: no kernel check")
        }),
        Attack(id: "A03", family: .files, label: "write", tries: "create a hook in A's .git/hooks", rule: ownFiles),
        Attack(id: "A03.file", family: .files, label: "modify", tries: "open A's workspace file for writing", rule: ownFiles),
        Attack(id: "A05", family: .files, label: "symlink", tries: "read A's file through a symlink in B's own workspace", rule: ownFiles),
        Attack(id: "A06", family: .files, label: "hard link", tries: "hard-link A's file into B's workspace", rule: { c in
            if c.namespaced { return .blocks("A's area is not mounted in B's root") }
            if c.hasLandlock { return .blocks("Landlock: outside B's allow-list (REFER)") }
            if c.perTenantUid { return .blocks("A's 0700 directory is not searchable by B's uid") }
            return .open("same uid, directories only: no kernel check")
        }),
        Attack(id: "A08", family: .files, label: "shared /tmp", tries: "read A's world-readable file in /tmp", rule: { c in
            if c.namespaced { return .blocks("private /tmp per tenant") }
            if c.hasLandlock { return .blocks("Landlock: /tmp is outside the allow-list (TMPDIR is per tenant)") }
            return .open("/tmp is shared and the file is world-readable")
        }),
        Attack(id: "A08.tmpdir", family: .files, label: "TMPDIR", tries: "read a file in A's TMPDIR", rule: { c in
            c.namespaced ? .blocks("TMPDIR is B's private /tmp") : ownFiles(c)
        }),
        Attack(id: "A08.home", family: .files, label: "HOME", tries: "read a file in A's HOME", rule: ownFiles),
        Attack(id: "A11", family: .files, label: "server credentials", tries: "read the server's 0600 credentials file beside the workspaces", rule: { c in
            if c.namespaced { return .blocks("not mounted in B's root") }
            if c.hasLandlock { return .blocks("Landlock: outside B's allow-list") }
            if c.perTenantUid { return .blocks("0600, owned by the server's uid") }
            return .open("same uid as the server")
        }),
        Attack(id: "A09", family: .ipc, label: "POSIX shm", tries: "open A's POSIX shared memory object in /dev/shm", rule: { c in
            if c.namespaced { return .blocks("private /dev/shm") }
            if c.hasLandlock { return .blocks("Landlock: /dev/shm is outside the allow-list") }
            if c.perTenantUid { return .blocks("A created it 0600 with its own uid") }
            return .open("same uid as A")
        }),
        Attack(id: "A09.sysv", family: .ipc, label: "SysV shm", tries: "attach A's SysV shared memory segment by key and id", rule: { c in
            if c.ipcNamespace { return .blocks("IPC namespace") }
            if c.perTenantUid { return .blocks("A created it 0600 with its own uid") }
            if c.hasLandlock { return .open("Landlock does not cover SysV IPC") }
            return .open("same uid as A")
        }),
        Attack(id: "A12", family: .processes, label: "list", tries: "find A's process in /proc", rule: procListing),
        Attack(id: "A13", family: .processes, label: "cmdline", tries: "read A's argv token from /proc/<pid>/cmdline", rule: procListing),
        Attack(id: "A14", family: .processes, label: "environ", tries: "read A's environment from /proc/<pid>/environ", rule: procPrivate),
        Attack(id: "A14.maps", family: .processes, label: "maps", tries: "read A's /proc/<pid>/maps", rule: procPrivate),
        Attack(id: "A16", family: .processes, label: "ptrace", tries: "attach to A's process with ptrace", rule: { c in
            if c.namespaced { return .blocks("A is not in B's pid namespace") }
            if c.seccomp { return .blocks("launcher seccomp filter: ptrace EPERM") }
            if c.hasLandlock { return .blocks("Landlock ptrace scope") }
            if c.perTenantUid { return .blocks("ptrace access check: A has another uid") }
            return .open("same uid; only Yama ptrace_scope would stop it")
        }),
        Attack(id: "A17", family: .processes, label: "signals", tries: "send SIGUSR1 to A's process", rule: { c in
            if c.namespaced { return .blocks("A is not in B's pid namespace") }
            if c.perTenantUid { return .blocks("A has another uid") }
            if c.landlock(atLeast: 6) { return .blocks("Landlock signal scope (ABI >= 6)") }
            return .open(c.hasLandlock ? "Landlock ABI \(c.landlockABI!) < 6 has no signal scope; same uid" : "same uid as A")
        }),
        Attack(id: "A17.all", family: .processes, label: "kill(-1)", tries: "kill(-1, SIGKILL): every process B may signal", rule: { c in
            if c.namespaced { return .blocks("reaches only B's pid namespace") }
            if c.perTenantUid { return .blocks("reaches only B's uid") }
            return .open("same uid as A and the server: it would kill them (not run)")
        }),
        Attack(id: "A18", family: .processes, label: "daemons", tries: "leave a setsid daemon behind after B's launch ends", rule: { c in
            if c.namespaced { return .blocks("the pid namespace dies with its init") }
            if c.backend == .directories { return .open("directories only: nothing owns the tree") }
            return .blocks("launcher: kills every process of the tenant's tree")
        }),
        Attack(id: "A20", family: .network, label: "loopback TCP", tries: "connect to A's TCP listener on 127.0.0.1", rule: { c in
            if c.netNamespace { return .blocks("network namespace") }
            if c.landlock(atLeast: 4) { return .blocks("Landlock TCP connect rules (ABI >= 4)") }
            return .open(c.namespaced ? "--network shared" : "shared network")
        }),
        Attack(id: "A20.server", family: .network, label: "server's loopback TCP", tries: "connect to the server's own TCP listener on 127.0.0.1", rule: { c in
            if c.netNamespace { return .blocks("network namespace") }
            if c.landlock(atLeast: 4) { return .blocks("Landlock TCP connect rules (ABI >= 4)") }
            return .open(c.namespaced ? "--network shared" : "shared network")
        }),
        Attack(id: "A22", family: .network, label: "abstract unix", tries: "connect to A's abstract unix socket", rule: { c in
            if c.netNamespace { return .blocks("abstract sockets belong to the network namespace") }
            if c.landlock(atLeast: 6) { return .blocks("Landlock abstract unix scope (ABI >= 6)") }
            return .open(c.namespaced ? "--network shared" : "shared network")
        }),
        Attack(id: "A23", family: .network, label: "pathname unix", tries: "connect to A's 0777 unix socket in /tmp", rule: { c in
            if c.namespaced { return .blocks("private /tmp: the socket is not in B's root") }
            if c.hasLandlock { return .blocks("Landlock: /tmp is outside the allow-list") }
            return .open("the socket is 0777 in the shared /tmp")
        }),
        Attack(id: "A26", family: .launcher, label: "environment", tries: "find the server's secret in its own environment", rule: launcher("the environment is rebuilt from scratch")),
        Attack(id: "A27", family: .launcher, label: "descriptors", tries: "use descriptors inherited from the server (a log file, a listening socket)", rule: launcher("descriptors above 2 are closed")),
        Attack(id: "A28", family: .launcher, label: "terminal", tries: "reach a controlling terminal to push keystrokes (TIOCSTI)", rule: launcher("setsid: no controlling terminal")),
        Attack(id: "A29", family: .privilege, label: "setuid", tries: "gain privilege through a setuid binary", rule: launcher("no_new_privs")),
        Attack(id: "A30", family: .privilege, label: "capabilities", tries: "keep capabilities", rule: launcher("capabilities dropped")),
        Attack(id: "A30.userns", family: .privilege, label: "nested user namespace", tries: "create a nested user namespace", rule: { c in
            if c.seccomp { return .blocks("launcher seccomp filter: unshare(CLONE_NEWUSER) EPERM") }
            return .open("no seccomp filter")
        }),
        Attack(id: "A33", family: .resources, label: "disk", tries: "write one file past --limit fsize", rule: launcher("RLIMIT_FSIZE")),
        Attack(id: "A32", family: .resources, label: "fork bomb", tries: "fork past --limit nproc", rule: { c in
            if c.perTenantUid { return .blocks("RLIMIT_NPROC on the tenant's own uid") }
            if c.namespaced { return .blocks("RLIMIT_NPROC counted in the tenant's user namespace") }
            return .open("RLIMIT_NPROC counts per real uid, shared with the server")
        }),
    ]

    public static func attack(_ id: String) -> Attack? { attacks.first { $0.id == id } }

    /// `protects` / `does not protect`, in one line each, generated from the catalogue.
    public static func protects(_ c: IsolationContext) -> String {
        let text = summary(c, blocks: true)
        return text.isEmpty ? "nothing at kernel level; the launcher's own duties only" : text
    }

    public static func doesNotProtect(_ c: IsolationContext) -> String {
        let open = attacks.filter { !$0.promise(c).blocks }
        var reasons: [(String, [String])] = []
        for a in open {
            let r = a.promise(c).reason
            if let i = reasons.firstIndex(where: { $0.0 == r }) { reasons[i].1.append(a.id) } else { reasons.append((r, [a.id])) }
        }
        let listed = reasons.map { "\($0.1.joined(separator: ",")) (\($0.0))" }
        return (listed + ["kernel exploits (one kernel is shared)",
                          "memory, CPU and total disk use beyond the --limit rlimits (add cgroup limits)"]).joined(separator: "; ")
    }

    /// "files (read, list, ...), IPC (...)" for the attacks with the given promise.
    static func summary(_ c: IsolationContext, blocks: Bool) -> String {
        Attack.Family.allCases.compactMap { f -> String? in
            let labels = attacks.filter { $0.family == f && $0.promise(c).blocks == blocks }.map(\.label)
            return labels.isEmpty ? nil : "\(f.rawValue) (\(labels.joined(separator: ", ")))"
        }.joined(separator: ", ")
    }
}
