/// Whether this process runs in a chroot: its root is not its mount namespace's root, and
/// the kernel then refuses it CLONE_NEWUSER (EPERM, user_namespaces(7); current_chrooted()).
/// Compared by mount ID, which device and inode cannot do: a chroot onto a bind of / has the
/// same device and inode as the real root. /proc/1/mountinfo is read, not /proc/1/root: it
/// needs no ptrace access, so it works for any uid.
public struct RootCheck: Equatable {
    /// nil when nothing here can tell.
    public var chrooted: Bool?
    public var evidence: String

    public init(chrooted: Bool?, evidence: String) {
        self.chrooted = chrooted
        self.evidence = evidence
    }

    static func read(pid: Int32) -> RootCheck {
        decide(own: ProcFiles.read("/proc/self/mountinfo"), pid1: pid == 1 ? nil : ProcFiles.read("/proc/1/mountinfo"))
    }

    /// `own`: this process's mountinfo; `pid1`: PID 1's, nil when this process is PID 1.
    /// Both files list mounts relative to the reader's root, with IDs unique system-wide.
    static func decide(own: Result<String, Errno>, pid1: Result<String, Errno>?) -> RootCheck {
        guard case .success = own else { return RootCheck(chrooted: nil, evidence: "/proc/self/mountinfo cannot be read") }
        guard let root = Parsers.rootMountID(own) else {
            // Every root a process gets by pivot_root or at boot is a mount.
            return RootCheck(chrooted: true, evidence: "no mount is at / in /proc/self/mountinfo: the root is a directory inside a mount, as chroot(2) makes it")
        }
        guard let pid1 else { return RootCheck(chrooted: nil, evidence: "this process is PID 1: no other process to compare roots with") }
        guard case .success(let text) = pid1 else {
            if case .failure(let e) = pid1 { return RootCheck(chrooted: nil, evidence: "/proc/1/mountinfo cannot be read (\(e.name))") }
            return RootCheck(chrooted: nil, evidence: "")
        }
        guard let point = Parsers.mountPoint(id: root, text) else {
            return RootCheck(chrooted: nil, evidence: "PID 1 is in another mount namespace (root mount \(root) is not in /proc/1/mountinfo)")
        }
        return point == "/" ? RootCheck(chrooted: false, evidence: "root mount \(root) is at / for PID 1 too")
            : RootCheck(chrooted: true, evidence: "this process's root is mount \(root), which PID 1 sees at \(point)")
    }
}
