import Glibc
import CNamespaceProbe

/// What the probe does inside a new namespace, once proven new, to show it is usable and
/// isolating. pid and time are shown by the first child (NamespaceVerification), user by its
/// maps (UserNamespaceSetup).
enum NamespaceAction {
    static func act(_ kind: NamespaceKind, _ w: StepWriter, _ ctx: ProbeContext) -> Bool {
        switch kind {
        case .mnt: return mnt(w, ctx)
        case .net: return net(w, ctx)
        case .ipc: return ipc(w, ctx)
        case .uts: return uts(w)
        case .cgroup: return cgroup(w)
        case .user, .pid, .time: return true
        }
    }

    static func mnt(_ w: StepWriter, _ ctx: ProbeContext) -> Bool {
        w.step("make / private (MS_REC|MS_PRIVATE)") { .check(mount(nil, "/", nil, UInt(MS_REC | MS_PRIVATE), nil)) }
        && w.step("mount tmpfs on scratch dir") {
            .check(mount("namespace-probe", ctx.mountPoint, "tmpfs", 0, "size=16k,mode=0700"))
        }
        && w.step("mount visible inside (/proc/self/mountinfo)") {
            Parsers.mountPoints(ProcFiles.read("/proc/self/mountinfo")).contains(ctx.mountPoint)
                ? .ok() : .failed(nil, "the new mount is missing from this namespace's mountinfo")
        }
        && w.step("parent does not see the mount") { parentDoesNotSee(ctx.mountPoint, witness: ctx.probePid) }
    }

    static func net(_ w: StepWriter, _ ctx: ProbeContext) -> Bool {
        w.step(socketStep) { probeSocketUnreachable(ctx) } && Loopback.up(w)
    }

    static let socketStep = "probe process's socket unreachable (connect)"
    static let queueStep = "probe process's message queue invisible (msgctl IPC_STAT)"

    /// Connects, never lists: gVisor's /proc/net/unix shows the sockets of every network
    /// namespace. The probe process connected to the same name (OutsideWitness), so any
    /// failure here is this namespace: ECONNREFUSED (no such name, unix(7)), or EINVAL
    /// (gVisor 20221219 refuses every unix connect in a new network namespace).
    static func probeSocketUnreachable(_ ctx: ProbeContext) -> StepResult {
        switch ctx.witness.socket {
        case .failure(let e): return .skipped("the probe process has no socket it can connect to (\(e.name))")
        case .success(let name):
            if cnp_abstract_connect(name) == 0 {
                return .failed(nil, "connected to @\(name): this is the probe process's network namespace")
            }
            return .ok("connect(@\(name)): \(Errno.current.name), where the probe process connects")
        }
    }

    /// EINVAL: no queue with this id in this IPC namespace (msgctl(2)); a new one starts empty.
    static func probeQueueInvisible(_ ctx: ProbeContext) -> StepResult {
        switch ctx.witness.messageQueue {
        case .failure(let e): return .skipped("the probe process has no message queue (\(e.name))")
        case .success(let id):
            var ds = msqid_ds()
            if msgctl(id, IPC_STAT, &ds) == 0 {
                return .failed(nil, "queue \(id) is visible: this is the probe process's IPC namespace")
            }
            let e = Errno.current
            switch e {
            case .EINVAL: return .ok("msgctl(\(id), IPC_STAT): EINVAL")
            case .EACCES: return .failed(nil, "queue \(id) exists here (EACCES): this is the probe process's IPC namespace")
            default: return .failed(e, "msgctl(\(id), IPC_STAT)")
            }
        }
    }

    /// The probe process's queue is not seen inside, and the probe process, which stayed
    /// outside, must not find the key created inside.
    static func ipc(_ w: StepWriter, _ ctx: ProbeContext) -> Bool {
        guard w.step(queueStep, { probeQueueInvisible(ctx) }) else { return false }
        let key = key_t(0x4E50_0000 | (getpid() & 0xFFFF))
        var id: Int32 = -1
        guard w.step("create SysV message queue inside", {
            id = msgget(key, IPC_CREAT | IPC_EXCL | 0o600)
            return .check(id, "key 0x" + String(UInt32(bitPattern: key), radix: 16))
        }) else { return false }
        let unseen = w.step("queue invisible outside") {
            switch w.ask(OutsideView.messageQueueQuestion(key)) {
            case "absent"?: return .ok()
            case let answer: return .failed(nil, "the outside namespace sees key \(key) (\(answer ?? "no answer"))")
            }
        }
        _ = msgctl(id, IPC_RMID, nil)
        return unseen
    }

    /// The probe process stayed outside: its hostname must not change.
    static func uts(_ w: StepWriter) -> Bool {
        let name = "namespace-probe-\(getpid())"
        return w.step("sethostname inside") { .check(sethostname(name, name.utf8.count), name) }
            && w.step("parent hostname unchanged") {
                switch w.ask(OutsideView.hostnameQuestion(name)) {
                case "unchanged"?: return .ok()
                case let answer: return .failed(nil, "the parent namespace sees the new hostname (\(answer ?? "no answer"))")
                }
            }
    }

    static func cgroup(_ w: StepWriter) -> Bool {
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
}

/// The probe process answers what the outside sees: it never leaves its namespaces, so it is
/// the witness for the children that changed theirs. It only reads: msgget without
/// IPC_CREAT, asked only after the child's msgget passed the same seccomp filter, and
/// gethostname (uname, which the probe calls at start anyway). No filter kills it here.
public enum OutsideView {
    static func messageQueueQuestion(_ key: key_t) -> String { "msgkey \(key)" }
    static func hostnameQuestion(_ name: String) -> String { "hostname \(name)" }

    public static func answer(_ question: String) -> String {
        let parts = question.split(separator: " ", maxSplits: 1).map(String.init)
        guard parts.count == 2 else { return "unknown question" }
        switch parts[0] {
        case "msgkey":
            guard let key = Int32(parts[1]) else { return "unknown question" }
            return msgget(key_t(key), 0) == -1 && errno == ENOENT ? "absent" : "present"
        case "hostname":
            return Hostname.current() == parts[1] ? "changed" : "unchanged"
        default:
            return "unknown question"
        }
    }
}

enum Hostname {
    static func current() -> String {
        var buf = [Int8](repeating: 0, count: 256)
        guard gethostname(&buf, buf.count - 1) == 0 else { return "" }
        return String(cString: buf)
    }
}
