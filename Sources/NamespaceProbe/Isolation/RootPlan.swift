import Glibc

/// What a tenant's root holds once `SandboxRoot.build` has run and pivot_root moved into it.
/// The same plan type describes the launcher's tenant root and the root the probe's sandbox
/// chain builds, so a `namespaces` verdict is a statement about the launcher's own steps.
public struct RootPlan: Equatable {
    public enum ProcMode: String, Equatable {
        /// A new proc instance for the new pid namespace (backend `namespaces`).
        case fresh
        /// The container's /proc bound in (backend `namespaces-shared-proc`).
        case container
        /// Fresh, else the container's: the probe records which one this kernel allows.
        case freshElseContainer
    }

    /// Where the tmpfs root is mounted before pivot_root (an empty directory).
    public var mountPoint: String
    /// Bound read-only at the same path when they exist (directories or files); a symlink
    /// (usr-merge `/bin`, `/etc/localtime`) is recreated as the same symlink.
    public var systemDirectories: [String]
    /// More paths bound read-only at the same path (`--ro-bind`); must exist.
    public var extraReadOnly: [String]
    /// Device nodes bound from the container's /dev into a tmpfs /dev.
    public var devices: [String]
    public var proc: ProcMode
    /// Bound read-write at the same absolute path. A path, or `/proc/self/fd/N` of a
    /// directory the caller opened and checked (`boundAt` then says where it goes).
    public var workspaceSource: String
    public var workspaceTarget: String
    /// Size limits of the private tmpfs mounts, in bytes.
    public var tmpBytes: Int
    public var devShmBytes: Int

    public static let defaultSystemDirectories = ["/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"]

    /// What of /etc a tenant sees: what programs read to run (users and groups by name, name
    /// resolution, certificates, the dynamic linker, time zone, locale, Debian's alternatives,
    /// interpreters' and tools' own defaults), never the whole of it: a server's credentials
    /// and keys often live there, readable by the server's uid, which is the tenant's when the
    /// launcher runs unprivileged (catalogue A11). Names ending in `*` match by prefix.
    /// `--ro-bind /etc/NAME` adds more.
    public static let etcEntries = [
        "passwd", "group", "nsswitch.conf", "hosts", "host.conf", "resolv.conf", "gai.conf", "services", "protocols",
        "networks", "ssl", "ca-certificates", "ca-certificates.conf", "pki", "crypto-policies", "ld.so.cache", "ld.so.conf",
        "ld.so.conf.d", "localtime", "timezone", "locale.alias", "locale.conf", "locale.gen", "alternatives", "os-release",
        "lsb-release", "debian_version", "alpine-release", "redhat-release", "mime.types", "magic", "magic.mime", "shells",
        "profile", "profile.d", "bash.bashrc", "inputrc", "environment", "terminfo", "gitconfig", "gitignore", "npmrc",
        "pip.conf", "wgetrc", "python3*", "perl", "vim", "xdg", "fonts",
    ]

    /// The system directories and the /etc entries of `etcEntries` that exist here, as
    /// absolute paths: what both the namespace root and the Landlock rules allow.
    public static func systemPaths(directories: [String] = defaultSystemDirectories, etc: [String] = etcEntries) -> [String] {
        guard case .success(let all) = ProcFiles.entries("/etc") else { return directories }
        let names = all.filter { name in etc.contains { $0 == name || ($0.hasSuffix("*") && name.hasPrefix($0.dropLast())) } }
        return directories + names.sorted().map { "/etc/" + $0 }
    }
    public static let defaultDevices = ["null", "zero", "full", "random", "urandom", "tty"]

    public init(mountPoint: String, workspaceSource: String, workspaceTarget: String, proc: ProcMode,
                systemDirectories: [String] = RootPlan.systemPaths(), extraReadOnly: [String] = [],
                devices: [String] = RootPlan.defaultDevices, tmpBytes: Int = 256 << 20, devShmBytes: Int = 64 << 20) {
        self.mountPoint = mountPoint
        self.workspaceSource = workspaceSource
        self.workspaceTarget = workspaceTarget
        self.proc = proc
        self.systemDirectories = systemDirectories
        self.extraReadOnly = extraReadOnly
        self.devices = devices
        self.tmpBytes = tmpBytes
        self.devShmBytes = devShmBytes
    }
}
