import Glibc
import CNamespaceProbe

/// Builds a tenant root in PID 1 of a new pid and mount namespace and moves into it: the
/// steps of `RootPlan`, each named and checked, in the order bubblewrap takes them. The
/// launcher runs this for every namespace launch and the probe's sandbox chain runs the very
/// same function with a scratch plan, so a `namespaces` verdict is about this code.
///
/// Sources are opened (O_PATH) before the new root hides anything, after the mount namespace
/// is private: mount(2) binds only from mounts of the caller's namespace (EINVAL otherwise),
/// and `/proc/self/fd/N` then names exactly the directory that was checked.
public enum SandboxRoot {
    public static let freshProcStep = "mount fresh proc"
    public static let sharedProcStep = "bind container /proc (fresh proc refused)"
    public static let containerProcStep = "bind container /proc"
    public static let privateStep = "make / private (MS_REC|MS_PRIVATE)"
    public static let witnessStep = "parent does not see the new root"

    /// unshare(2) of every kind in one call (the caller's next child is PID 1 of the new pid
    /// namespace). The step is named by its flags, in the order given.
    public static func unshareNamespaces(_ kinds: [NamespaceKind], _ w: StepWriter) -> Bool {
        let flags = kinds.reduce(UInt(0)) { $0 | $1.cloneFlag }
        return w.step(unshareStepName(kinds)) { .check(cnp_unshare(flags)) }
    }

    public static func unshareStepName(_ kinds: [NamespaceKind]) -> String {
        "unshare(" + kinds.map { $0 == .mnt ? "CLONE_NEWNS" : "CLONE_NEW" + $0.rawValue.uppercased() }.joined(separator: "|") + ")"
    }

    /// `witness`: a process outside whose mountinfo must not show the new root (the probe
    /// process); nil in the launcher. `expectedWorkspace`: device and inode the caller
    /// checked; the directory opened here must be the same one. Returns the /proc the root
    /// got (fresh or the container's), nil at the first failed step.
    public static func build(_ plan: RootPlan, _ w: StepWriter, witness: pid_t? = nil,
                             expectedWorkspace: (dev: UInt64, ino: UInt64)? = nil) -> RootPlan.ProcMode? {
        var sources = Sources()
        defer { sources.closeAll() }
        let root = plan.mountPoint
        var ok = w.step("unshare(CLONE_NEWNS) for PID 1 alone") { .check(cnp_unshare(NamespaceKind.mnt.cloneFlag)) }
            // pivot_root moves the root of every process that shares the old namespace: PID 1
            // takes a namespace of its own, so the caller keeps its root.
            && w.step(privateStep) { .check(mount(nil, "/", nil, UInt(MS_REC | MS_PRIVATE), nil)) }
            && w.step("open bind sources") { sources.open(plan, expectedWorkspace: expectedWorkspace) }
            && w.step("mount tmpfs as new root") { .check(mount("tenant-root", root, "tmpfs", UInt(MS_NOSUID | MS_NODEV), "size=1m,mode=0755")) }
        if ok, let witness {
            ok = w.step(witnessStep) { parentDoesNotSee(root, witness: witness) }
        }
        ok = ok
            && w.step("mount private /tmp and /dev") { privateTmpAndDev(plan, sources) }
            && w.step("bind system directories read-only") { bindReadOnly(sources.system, under: root, submounts: sources.mountPoints) }
            && (plan.extraReadOnly.isEmpty || w.step("bind extra paths read-only") { bindReadOnly(sources.extra, under: root, submounts: sources.mountPoints) })
            && w.step("bind workspace") {
                let target = root + plan.workspaceTarget
                guard makeDirectories(target) else { return .failed(.current, "mkdir -p \(target)") }
                return .check(mount(sources.fdPath(sources.workspace), target, nil, UInt(MS_BIND | MS_NOSUID | MS_NODEV), nil), plan.workspaceTarget)
            }
        guard ok else { return nil }
        let procTarget = root + "/proc"
        guard mkdir(procTarget, 0o555) == 0 || errno == EEXIST else {
            w.record(freshProcStep, .failed(.current, "mkdir \(procTarget)"))
            return nil
        }
        var proc: RootPlan.ProcMode?
        switch plan.proc {
        case .fresh:
            if w.step(freshProcStep, { mountFreshProc(procTarget) }) { proc = .fresh }
        case .container:
            if w.step(containerProcStep, { bindContainerProc(sources, procTarget) }) { proc = .container }
        case .freshElseContainer:
            if w.step(freshProcStep, { mountFreshProc(procTarget) }) { proc = .fresh }
            else if w.step(sharedProcStep, { bindContainerProc(sources, procTarget) }) { proc = .container }
        }
        sources.closeAll()
        guard let proc else { return nil }
        let moved = w.step("pivot_root") {
                guard mkdir(root + "/oldroot", 0o700) == 0 else { return .failed(.current, "mkdir oldroot") }
                guard cnp_pivot_root(root, root + "/oldroot") == 0 else { return .failed(.current) }
                return .check(chdir("/"), "chdir /")
            }
            && w.step("detach old root") {
                guard umount2("/oldroot", Int32(MNT_DETACH)) == 0 else { return .failed(.current) }
                return .check(rmdir("/oldroot"), "rmdir /oldroot")
            }
            && w.step("make / read-only") { remountReadOnly("/") }
        return moved ? proc : nil
    }

    /// The directories the plan binds, opened while the container's root is still visible.
    struct Sources {
        var system: [(path: String, fd: Int32, symlink: String?)] = []
        var extra: [(path: String, fd: Int32, symlink: String?)] = []
        var devices: [(name: String, fd: Int32)] = []
        var workspace: Int32 = -1
        var proc: Int32 = -1
        /// The mount points of this namespace before the new root (one read of mountinfo).
        var mountPoints: [String] = []

        func fdPath(_ fd: Int32) -> String { "/proc/self/fd/\(fd)" }

        mutating func open(_ plan: RootPlan, expectedWorkspace: (dev: UInt64, ino: UInt64)?) -> StepResult {
            mountPoints = Parsers.mountPoints(ProcFiles.read("/proc/self/mountinfo"))
            for path in plan.systemDirectories {
                var st = stat()
                guard lstat(path, &st) == 0 else { continue }  // absent here: nothing to bind
                if (st.st_mode & S_IFMT) == S_IFLNK {
                    guard case .success(let target) = ProcFiles.readLink(path) else { return .failed(.current, "readlink \(path)") }
                    system.append((path, -1, target))
                    continue
                }
                let fd = Glibc.open(path, cnp_O_PATH | O_CLOEXEC | cnp_O_NOFOLLOW)
                guard fd >= 0 else { return .failed(.current, "open \(path)") }
                system.append((path, fd, nil))
            }
            for path in plan.extraReadOnly {
                let fd = Glibc.open(path, cnp_O_PATH | O_CLOEXEC)
                guard fd >= 0 else { return .failed(.current, "open \(path)") }
                extra.append((path, fd, nil))
            }
            for name in plan.devices {
                let fd = Glibc.open("/dev/" + name, cnp_O_PATH | O_CLOEXEC)
                guard fd >= 0 else { return .failed(.current, "open /dev/\(name)") }
                devices.append((name, fd))
            }
            workspace = cnp_openat2(AT_FDCWD, plan.workspaceSource, UInt64(cnp_O_PATH | O_CLOEXEC | cnp_O_DIRECTORY),
                                    cnp_RESOLVE_NO_SYMLINKS)
            if workspace < 0 && errno == ENOSYS {
                workspace = Glibc.open(plan.workspaceSource, cnp_O_PATH | O_CLOEXEC | cnp_O_DIRECTORY | cnp_O_NOFOLLOW)
            }
            guard workspace >= 0 else { return .failed(.current, "open \(plan.workspaceSource) without following symlinks") }
            if let expected = expectedWorkspace {
                var st = stat()
                guard fstat(workspace, &st) == 0 else { return .failed(.current, "fstat workspace") }
                guard UInt64(st.st_dev) == expected.dev, UInt64(st.st_ino) == expected.ino else {
                    return .failed(nil, "\(plan.workspaceSource) is no longer the directory the launcher checked")
                }
            }
            if plan.proc != .fresh {
                proc = Glibc.open("/proc", cnp_O_PATH | O_CLOEXEC | cnp_O_DIRECTORY)
                guard proc >= 0 else { return .failed(.current, "open /proc") }
            }
            return .ok()
        }

        mutating func closeAll() {
            for fd in system.map(\.fd) + extra.map(\.fd) + devices.map(\.fd) + [workspace, proc] where fd >= 0 { close(fd) }
            system = system.map { ($0.path, -1, $0.symlink) }
            extra = extra.map { ($0.path, -1, $0.symlink) }
            devices = []
            workspace = -1
            proc = -1
        }
    }

    static func privateTmpAndDev(_ plan: RootPlan, _ s: Sources) -> StepResult {
        let root = plan.mountPoint
        for dir in ["/tmp", "/dev"] where mkdir(root + dir, 0o755) != 0 { return .failed(.current, "mkdir \(dir)") }
        guard mount("tenant-tmp", root + "/tmp", "tmpfs", UInt(MS_NOSUID | MS_NODEV), "size=\(plan.tmpBytes),mode=1777") == 0 else {
            return .failed(.current, "mount tmpfs /tmp")
        }
        guard mount("tenant-dev", root + "/dev", "tmpfs", UInt(MS_NOSUID), "size=64k,mode=0755") == 0 else {
            return .failed(.current, "mount tmpfs /dev")
        }
        for (name, fd) in s.devices {
            let node = root + "/dev/" + name
            let created = Glibc.open(node, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o666)
            guard created >= 0 else { return .failed(.current, "create /dev/\(name)") }
            close(created)
            guard mount(s.fdPath(fd), node, nil, UInt(MS_BIND), nil) == 0 else { return .failed(.current, "bind /dev/\(name)") }
        }
        for (link, target) in [("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
                               ("stderr", "/proc/self/fd/2")] where symlink(target, root + "/dev/" + link) != 0 {
            return .failed(.current, "symlink /dev/\(link)")
        }
        guard mkdir(root + "/dev/shm", 0o755) == 0 else { return .failed(.current, "mkdir /dev/shm") }
        guard mount("tenant-shm", root + "/dev/shm", "tmpfs", UInt(MS_NOSUID | MS_NODEV), "size=\(plan.devShmBytes),mode=1777") == 0 else {
            return .failed(.current, "mount tmpfs /dev/shm")
        }
        return .ok("/tmp \(plan.tmpBytes >> 20) MiB, /dev with \(plan.devices.joined(separator: " ")), /dev/shm")
    }

    /// `submounts`: the container's mount points, read before the new root was mounted; those
    /// below a bound directory come along with the recursive bind.
    static func bindReadOnly(_ entries: [(path: String, fd: Int32, symlink: String?)], under root: String, submounts: [String]) -> StepResult {
        var done: [String] = []
        for e in entries {
            let target = root + e.path
            if let link = e.symlink {
                guard makeDirectories(parentOf(target)), symlink(link, target) == 0 else { return .failed(.current, "symlink \(e.path) -> \(link)") }
                done.append("\(e.path)->\(link)")
                continue
            }
            var st = stat()
            guard fstat(e.fd, &st) == 0 else { return .failed(.current, "fstat \(e.path)") }
            if (st.st_mode & S_IFMT) == S_IFDIR {
                guard makeDirectories(target) else { return .failed(.current, "mkdir -p \(e.path)") }
            } else {
                guard makeDirectories(parentOf(target)) else { return .failed(.current, "mkdir -p \(parentOf(e.path))") }
                let f = Glibc.open(target, O_WRONLY | O_CREAT | O_CLOEXEC, 0o444)
                guard f >= 0 else { return .failed(.current, "create \(e.path)") }
                close(f)
            }
            guard mount("/proc/self/fd/\(e.fd)", target, nil, UInt(MS_BIND | MS_REC), nil) == 0 else { return .failed(.current, "bind \(e.path)") }
            // A recursive bind brings the mounts below the source along, each with its own
            // flags (Docker binds /etc/hosts and /etc/resolv.conf that way): every one of
            // them is made read-only too, deepest last.
            var targets = [target]
            if (st.st_mode & S_IFMT) == S_IFDIR {
                targets += submounts.filter { $0.hasPrefix(e.path + "/") }.map { root + $0 }
            }
            for t in targets {
                if case .failed(let err, let detail) = remountReadOnly(t) { return .failed(err, "\(e.path): \(detail ?? "")") }
            }
            done.append(e.path)
        }
        return .ok(done.joined(separator: " "))
    }

    /// Read-only, nosuid and nodev on top of the flags the mount already has: in a user
    /// namespace the kernel refuses (EPERM) a remount that would clear a locked flag.
    public static func remountReadOnly(_ target: String) -> StepResult {
        var vfs = statvfs()
        guard statvfs(target, &vfs) == 0 else { return .failed(.current, "statvfs \(target)") }
        var flags = UInt(MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)
        let f = UInt(vfs.f_flag)
        if f & 8 != 0 { flags |= UInt(MS_NOEXEC) }        // ST_NOEXEC
        if f & 1024 != 0 { flags |= UInt(MS_NOATIME) }    // ST_NOATIME
        if f & 2048 != 0 { flags |= UInt(MS_NODIRATIME) } // ST_NODIRATIME
        if f & 4096 != 0 { flags |= UInt(MS_RELATIME) }   // ST_RELATIME
        return .check(mount(nil, target, nil, flags, nil), "remount read-only \(target)")
    }

    static func mountFreshProc(_ target: String) -> StepResult {
        .check(mount("proc", target, "proc", UInt(MS_NOSUID | MS_NODEV | MS_NOEXEC), nil))
    }

    static func bindContainerProc(_ s: Sources, _ target: String) -> StepResult {
        .check(mount(s.fdPath(s.proc), target, nil, UInt(MS_BIND | MS_REC), nil))
    }

    /// mkdir -p; false with errno set at the first directory that cannot be made.
    static func makeDirectories(_ path: String) -> Bool {
        var current = ""
        for part in path.split(separator: "/") {
            current += "/" + part
            if mkdir(current, 0o755) != 0 && errno != EEXIST { return false }
        }
        return true
    }

    static func parentOf(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/"), slash != path.startIndex else { return "/" }
        return String(path[..<slash])
    }
}

/// A mount made in our namespace must be absent from `witness`'s mountinfo.
func parentDoesNotSee(_ mountPoint: String, witness: pid_t) -> StepResult {
    let path = "/proc/\(witness)/mountinfo"
    switch ProcFiles.read(path) {
    case .failure(let e): return .failed(e, "cannot read \(path)")
    case .success(let text):
        return Parsers.mountPoints(.success(text)).contains(mountPoint)
            ? .failed(nil, "the mount leaked into the parent's mount namespace (\(path))") : .ok(path)
    }
}
