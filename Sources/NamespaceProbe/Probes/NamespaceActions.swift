import Glibc
import CNamespaceProbe

/// What the probe does inside a new namespace to show it is usable and isolating.
struct NamespaceAction {
    /// True when the action is harmless outside a new namespace and its success alone proves
    /// isolation (PID 1, a written uid_map, a clock offset), so it may run where the ns link
    /// cannot be read.
    var actionProvesIsolation = false
    /// The action checks the new inode itself (pid: only a child can see it).
    var verifiesInside = false
    /// Runs before unshare(), in the old namespaces (a witness process).
    var prepare: (ProbeContext) -> Witness? = { _ in nil }
    var act: (StepWriter, ProbeContext, Witness?) -> Bool

    static func `for`(_ kind: NamespaceKind) -> NamespaceAction {
        switch kind {
        case .user: return user
        case .pid: return pid
        case .mnt: return mnt
        case .net: return net
        case .ipc: return ipc
        case .uts: return uts
        case .cgroup: return cgroup
        case .time: return time
        }
    }

    static let user = NamespaceAction(actionProvesIsolation: true) { w, ctx, _ in
        UserNamespaceSetup.writeMaps(w, ctx) && w.step("uid 0 with CAP_SYS_ADMIN inside") {
            var eff: [UInt32] = [0, 0], prm: [UInt32] = [0, 0], inh: [UInt32] = [0, 0]
            guard cnp_capget(&eff, &prm, &inh) == 0 else { return .failed(.current, "capget") }
            let hasAdmin = UInt64(eff[0]) & (1 << UInt64(CapabilitySets.sysAdmin)) != 0
            return getuid() == 0 && hasAdmin ? .ok("uid 0, CAP_SYS_ADMIN effective")
                : .failed(nil, "uid \(getuid()), CAP_SYS_ADMIN \(hasAdmin ? "held" : "missing")")
        }
    }

    /// pid_for_children reads ENOENT until the namespace has a process, so the new inode is
    /// checked from the first child, which must also be PID 1 there.
    static let pid = NamespaceAction(actionProvesIsolation: true, verifiesInside: true) { w, _, _ in
        let outside = ProcFiles.namespaceInode("pid")
        return w.step("fork: child is PID 1") {
            let run = Subprocess.run { () -> Int32 in
                if NamespaceVerification.recordInChild(.pid, outside: outside, w) == .notNew { return 2 }
                return getpid() == 1 ? 0 : 1
            }
            switch run {
            case .failure(let e): return .failed(e, "fork")
            case .success(.exited(0)): return .ok("getpid() == 1 in the child")
            case .success(.exited(2)): return .failed(nil, "the child is in the parent's pid namespace")
            case .success(let other): return .failed(nil, "child is not PID 1 (\(other))")
            }
        }
    }

    static let mnt = NamespaceAction { w, ctx, _ in
        w.step("make / private (MS_REC|MS_PRIVATE)") { .check(mount(nil, "/", nil, UInt(MS_REC | MS_PRIVATE), nil)) }
        && w.step("mount tmpfs on scratch dir") {
            .check(mount("namespace-probe", ctx.mountPoint, "tmpfs", 0, "size=16k,mode=0700"))
        }
        && w.step("mount visible inside (/proc/self/mountinfo)") {
            Parsers.mountPoints(ProcFiles.read("/proc/self/mountinfo")).contains(ctx.mountPoint)
                ? .ok() : .failed(nil, "the new mount is missing from this namespace's mountinfo")
        }
        && w.step("parent does not see the mount (/proc/\(ctx.probePid)/mountinfo)") { parentDoesNotSee(ctx.mountPoint, ctx) }
    }

    static let net = NamespaceAction { w, _, _ in
        w.step("only lo exists (/proc/self/net/dev)") {
            switch ProcFiles.read("/proc/self/net/dev") {
            case .failure(let e): return .failed(e)
            case .success(let text):
                let names = Parsers.netDevInterfaces(text)
                return names == ["lo"] ? .ok() : .failed(nil, "interfaces: \(names.joined(separator: ","))")
            }
        }
        && Loopback.up(w)
    }

    static let ipc = NamespaceAction(prepare: { _ in
        Witness.spawn { key in
            // The outside must not find the key the probe created inside.
            msgget(key_t(Int32(key) ?? 0), 0) == -1 && errno == ENOENT ? "absent" : "present"
        }
    }) { w, _, witness in
        let key = key_t(0x4E50_0000 | (getpid() & 0xFFFF))
        var id: Int32 = -1
        let created = w.step("create SysV message queue inside") {
            id = msgget(key, IPC_CREAT | IPC_EXCL | 0o600)
            return .check(id, "key 0x" + String(UInt32(bitPattern: key), radix: 16))
        }
        guard created else { witness?.dismiss(); return false }
        guard let witness else { return w.step("queue invisible outside") { noWitness } }
        let seen = w.step("queue invisible outside") {
            let answer = witness.ask(String(key))
            return answer == "absent" ? .ok() : .failed(nil, "the outside namespace sees key \(key) (\(answer))")
        }
        _ = msgctl(id, IPC_RMID, nil)
        return seen
    }

    static let uts = NamespaceAction(prepare: { _ in
        Witness.spawn { name in Hostname.current() == name ? "changed" : "unchanged" }
    }) { w, _, witness in
        let name = "namespace-probe-\(getpid())"
        let set = w.step("sethostname inside") {
            .check(sethostname(name, name.utf8.count), name)
        }
        guard set else { witness?.dismiss(); return false }
        guard let witness else { return w.step("parent hostname unchanged") { noWitness } }
        return w.step("parent hostname unchanged") {
            witness.ask(name) == "unchanged" ? .ok() : .failed(nil, "the parent namespace sees the new hostname")
        }
    }

    static let cgroup = NamespaceAction { w, _, _ in
        w.step("/proc/self/cgroup shows the root") {
            switch ProcFiles.read("/proc/self/cgroup") {
            case .failure(let e): return .failed(e)
            case .success(let text):
                let paths = Parsers.cgroupPaths(text)
                return !paths.isEmpty && paths.allSatisfy({ $0 == "/" }) ? .ok()
                    : .failed(nil, "paths: \(paths.joined(separator: ","))")
            }
        }
    }

    /// The offset file only accepts writes in a fresh time namespace before any process is in
    /// it, so the write is harmless elsewhere; the first child then proves the namespace (new
    /// inode) and the offset (its monotonic clock jumped).
    static let time = NamespaceAction(actionProvesIsolation: true, verifiesInside: true) { w, _, _ in
        let offset = 10 * 86_400
        let outside = ProcFiles.namespaceInode("time")
        return w.step("write /proc/self/timens_offsets") {
            .check(ProcFiles.write("/proc/self/timens_offsets", "monotonic \(offset) 0\n"))
        }
        && w.step("child sees the monotonic offset") {
            var before = timespec()
            clock_gettime(CLOCK_MONOTONIC, &before)
            let run = Subprocess.run { () -> Int32 in
                NamespaceVerification.recordInChild(.time, outside: outside, w)
                var now = timespec()
                clock_gettime(CLOCK_MONOTONIC, &now)
                return now.tv_sec - before.tv_sec >= offset - 60 ? 0 : 1
            }
            switch run {
            case .failure(let e): return .failed(e, "fork")
            case .success(.exited(0)): return .ok("offset \(offset)s seen")
            case .success(let other): return .failed(nil, "offset not seen by the child (\(other))")
            }
        }
    }
}

/// The outside could not be asked: the witness process was never started.
let noWitness = StepResult.failed(nil, "no witness outside: fork or pipe failed before unshare()")

/// A mount made in our namespace must be absent from the probe process's mountinfo.
func parentDoesNotSee(_ mountPoint: String, _ ctx: ProbeContext) -> StepResult {
    switch ProcFiles.read("/proc/\(ctx.probePid)/mountinfo") {
    case .failure(let e): return .failed(e, "cannot read the probe's mountinfo")
    case .success(let text):
        return Parsers.mountPoints(.success(text)).contains(mountPoint)
            ? .failed(nil, "the mount leaked into the parent's mount namespace") : .ok()
    }
}

enum Hostname {
    static func current() -> String {
        var buf = [Int8](repeating: 0, count: 256)
        guard gethostname(&buf, buf.count - 1) == 0 else { return "" }
        return String(cString: buf)
    }
}
