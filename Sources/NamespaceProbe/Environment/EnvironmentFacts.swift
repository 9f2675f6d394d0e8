import Glibc

/// Facts about the process and the kernel that decide which namespaces can work.
public struct EnvironmentFacts: Equatable {
    public var kernelRelease: String
    public var kernelVersion: String
    public var machine: String
    public var procVersion: String?
    public var uid: UInt32
    public var euid: UInt32
    public var gid: UInt32
    public var pid: Int32
    public var isPID1: Bool { pid == 1 }
    public var cgroupVersion: String
    public var lsmLabel: String?
    public var seccompMode: Int?
    public var seccompFilters: Int?
    public var noNewPrivs: Bool?
    /// Sysctl name -> value; a sysctl that does not exist is recorded as nil (absent is a fact).
    public var sysctls: [String: String?]
    /// Whether this process is chrooted (reports before schema 1's `root` field: unknown).
    public var root = RootCheck(chrooted: nil, evidence: "not recorded")

    public static let sysctlNames = [
        "user.max_user_namespaces", "kernel.unprivileged_userns_clone",
        "kernel.apparmor_restrict_unprivileged_userns", "kernel.yama.ptrace_scope",
    ]

    public init(kernelRelease: String, kernelVersion: String, machine: String, procVersion: String?,
                uid: UInt32, euid: UInt32, gid: UInt32, pid: Int32, cgroupVersion: String,
                lsmLabel: String?, seccompMode: Int?, seccompFilters: Int?, noNewPrivs: Bool?,
                sysctls: [String: String?]) {
        self.kernelRelease = kernelRelease
        self.kernelVersion = kernelVersion
        self.machine = machine
        self.procVersion = procVersion
        self.uid = uid
        self.euid = euid
        self.gid = gid
        self.pid = pid
        self.cgroupVersion = cgroupVersion
        self.lsmLabel = lsmLabel
        self.seccompMode = seccompMode
        self.seccompFilters = seccompFilters
        self.noNewPrivs = noNewPrivs
        self.sysctls = sysctls
    }

    public func sysctl(_ name: String) -> String? { sysctls[name] ?? nil }

    /// `status`: the fields of /proc/self/status; `cgroup`: /proc/self/cgroup (both read
    /// once by the caller, which needs them elsewhere too).
    public static func read(status: [String: String], cgroup: String?) -> EnvironmentFacts {
        var u = utsname()
        uname(&u)
        func field<T>(_ value: T) -> String {
            withUnsafeBytes(of: value) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
        }
        var sysctls: [String: String?] = [:]
        for name in sysctlNames {
            sysctls[name] = ProcFiles.line("/proc/sys/" + name.split(separator: ".").joined(separator: "/"))
        }
        let label = ProcFiles.line("/proc/self/attr/current").map { String($0.filter { $0 != "\0" }) }
        var facts = EnvironmentFacts(
            kernelRelease: field(u.release), kernelVersion: field(u.version), machine: field(u.machine),
            procVersion: ProcFiles.line("/proc/version"),
            uid: getuid(), euid: geteuid(), gid: getgid(), pid: getpid(),
            cgroupVersion: cgroup.map(Parsers.cgroupVersion) ?? "unknown",
            lsmLabel: label, seccompMode: status["Seccomp"].flatMap { Int($0) },
            seccompFilters: status["Seccomp_filters"].flatMap { Int($0) },
            noNewPrivs: status["NoNewPrivs"].map { $0 == "1" }, sysctls: sysctls)
        facts.root = RootCheck.read(pid: facts.pid)
        return facts
    }
}
