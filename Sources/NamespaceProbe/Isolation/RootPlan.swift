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
    /// Bound read-only at the same path when they exist; a symlink (usr-merge `/bin`) is
    /// recreated as the same symlink.
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

    public static let defaultSystemDirectories = ["/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc"]
    public static let defaultDevices = ["null", "zero", "full", "random", "urandom", "tty"]

    public init(mountPoint: String, workspaceSource: String, workspaceTarget: String, proc: ProcMode,
                systemDirectories: [String] = RootPlan.defaultSystemDirectories, extraReadOnly: [String] = [],
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
