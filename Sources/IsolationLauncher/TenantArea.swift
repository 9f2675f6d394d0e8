import Glibc
import CNamespaceProbe
import NamespaceProbe

/// The tenant's own directories: `<root>/<tenant>` (the workspace, 0700), with HOME
/// (`.home`) and TMPDIR (`.tmp`) inside it. Every component is opened without following
/// symlinks (openat2 RESOLVE_NO_SYMLINKS, else O_NOFOLLOW one level at a time), so a tenant
/// directory replaced by a symlink to `/etc` or to another tenant is refused, never followed.
public struct TenantArea {
    public let root: String
    public let workspace: String
    public var home: String { workspace + "/.home" }
    public var tmp: String { workspace + "/.tmp" }
    /// Device and inode of the workspace as checked here; the sandbox's PID 1 reopens it and
    /// must find the same directory.
    public let identity: (dev: UInt64, ino: UInt64)
    /// O_PATH descriptor of the root (for the uid registry), close-on-exec.
    public let rootFD: Int32

    /// Opens (creating where missing) the area. `owner` is asked, with the checked root's
    /// descriptor, for the ids the area must belong to (the tenant's uid under a per-tenant
    /// uid; nil: the launcher's); a directory owned by anyone else is refused. Throws a
    /// refusal that says what to fix.
    public static func prepare(root: String, tenant: TenantID,
                               owner ownerFor: (Int32) throws -> (uid: uid_t, gid: gid_t)?) throws -> TenantArea {
        guard root.hasPrefix("/") else { throw LaunchRefusal.usage("--workspace-root must be an absolute path, got '\(root)'") }
        let rootFD = openNoSymlinks(AT_FDCWD, root, directory: true)
        guard rootFD >= 0 else {
            let e = Errno.current
            switch e {
            case .ENOENT: throw LaunchRefusal.usage("workspace root \(root) does not exist; create it (mode 0755 or stricter, not writable by group or others)")
            case Errno(rawValue: ELOOP), Errno(rawValue: EXDEV), Errno(rawValue: ENOTDIR):
                throw LaunchRefusal.usage("workspace root \(root) is or passes through a symlink (\(e.name)); give the real path")
            default: throw LaunchRefusal.usage("cannot open workspace root \(root): \(e)")
            }
        }
        var st = stat()
        guard fstat(rootFD, &st) == 0 else { close(rootFD); throw LaunchRefusal.usage("cannot stat \(root): \(Errno.current)") }
        guard st.st_uid == geteuid() || st.st_uid == 0 else {
            close(rootFD)
            throw LaunchRefusal.usage("workspace root \(root) belongs to uid \(st.st_uid), neither the launcher's uid \(geteuid()) nor root: "
                + "its owner could swap tenant directories; chown it")
        }
        guard st.st_mode & 0o022 == 0 else {
            close(rootFD)
            throw LaunchRefusal.usage("workspace root \(root) is writable by group or others (mode \(String(st.st_mode & 0o7777, radix: 8))): "
                + "any tenant could plant or swap directories there; chmod go-w it")
        }
        do {
            let owner = try ownerFor(rootFD)
            let ws = try directory(rootFD, tenant.value, path: root + "/" + tenant.value, owner: owner)
            var wst = stat()
            guard fstat(ws, &wst) == 0 else { throw LaunchRefusal.usage("cannot stat the workspace: \(Errno.current)") }
            for sub in [".home", ".tmp"] { close(try directory(ws, sub, path: root + "/" + tenant.value + "/" + sub, owner: owner)) }
            close(ws)
            return TenantArea(root: root, workspace: root + "/" + tenant.value, identity: (UInt64(wst.st_dev), UInt64(wst.st_ino)), rootFD: rootFD)
        } catch {
            close(rootFD)
            throw error
        }
    }

    /// mkdirat 0700 when missing, then opened without following a symlink, checked to be a
    /// directory of `owner` (or of the launcher) and chowned to `owner`.
    static func directory(_ parent: Int32, _ name: String, path: String, owner: (uid: uid_t, gid: gid_t)?) throws -> Int32 {
        if mkdirat(parent, name, 0o700) != 0 && errno != EEXIST {
            let e = Errno.current
            throw LaunchRefusal.usage("cannot create \(path): \(e)" + (e == .EACCES ? " (the launcher's uid \(geteuid()) must own the workspace root)" : ""))
        }
        let fd = openNoSymlinks(parent, name, directory: true)
        guard fd >= 0 else {
            let e = Errno.current
            if e.rawValue == ELOOP || e.rawValue == ENOTDIR || e.rawValue == EXDEV {
                throw LaunchRefusal.usage("\(path) is not a directory of its own (a symlink or another file: \(e.name)); refused: move it away")
            }
            throw LaunchRefusal.usage("cannot open \(path): \(e)")
        }
        var st = stat()
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR else { close(fd); throw LaunchRefusal.usage("\(path) is not a directory") }
        let me = geteuid()
        // The launcher's uid, this launch's owner, or the uid this tenant was given by an
        // earlier launch with a per-tenant uid (the registry's record).
        let allowed = st.st_uid == me || st.st_uid == owner?.uid || st.st_uid == TenantUIDRegistry.recorded(tenantOf: path)
        guard allowed else {
            close(fd)
            throw LaunchRefusal.usage("\(path) belongs to uid \(st.st_uid), not to this tenant; refused (another tenant's or a planted directory)")
        }
        if let owner, st.st_uid != owner.uid || st.st_gid != owner.gid {
            // AT_EMPTY_PATH on an O_PATH descriptor (Linux 2.6.39); gVisor answers EBADF, and
            // the descriptor's /proc/self/fd link names the same directory.
            let changed = fchownat(fd, "", owner.uid, owner.gid, cnp_AT_EMPTY_PATH) == 0
                || (errno == EBADF && chown("/proc/self/fd/\(fd)", owner.uid, owner.gid) == 0)
            guard changed else {
                let e = Errno.current
                close(fd)
                throw LaunchRefusal.isolation(step: "chown \(path) to uid \(owner.uid)", errno: e.name, cause: "the launcher needs CAP_CHOWN for a per-tenant uid")
            }
        }
        if st.st_mode & 0o077 != 0 {
            // chmod through /proc/self/fd: fchmod does not take O_PATH descriptors.
            _ = chmod("/proc/self/fd/\(fd)", 0o700)
        }
        return fd
    }

    /// openat2 with RESOLVE_NO_SYMLINKS (Linux 5.6); where it is missing (ENOSYS, gVisor
    /// releases), each component is opened with O_NOFOLLOW.
    static func openNoSymlinks(_ dirfd: Int32, _ path: String, directory: Bool) -> Int32 {
        let flags = cnp_O_PATH | O_CLOEXEC | (directory ? cnp_O_DIRECTORY : 0)
        let fd = cnp_openat2(dirfd, path, UInt64(flags), cnp_RESOLVE_NO_SYMLINKS)
        if fd >= 0 || errno != ENOSYS { return fd }
        var current = path.hasPrefix("/") ? open("/", cnp_O_PATH | O_CLOEXEC | cnp_O_DIRECTORY) : dup(dirfd)
        for part in path.split(separator: "/") where current >= 0 {
            let next = openat(current, String(part), cnp_O_PATH | O_CLOEXEC | cnp_O_NOFOLLOW | cnp_O_DIRECTORY)
            let saved = errno
            close(current)
            errno = saved
            current = next
        }
        return current
    }
}
