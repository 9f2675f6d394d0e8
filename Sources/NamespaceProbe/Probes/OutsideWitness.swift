import Glibc
import CNamespaceProbe

/// What the probe process holds in its own namespaces while its children probe, so that a
/// child can prove it left them by looking, never by changing anything outside:
/// - its /proc/self/ns inodes, the control for every link comparison (`LinkControl`);
/// - an abstract unix socket it listens on and can connect to: the name lives in one network
///   namespace (unix(7)), so a child in a new one cannot connect to it;
/// - a SysV message queue it created with IPC_PRIVATE: its id exists in one IPC namespace
///   (ipc_namespaces(7)), so msgctl(IPC_STAT) on it fails with EINVAL in a new one.
/// Opened before the first fork, closed after the last child is reaped. The queue is the one
/// object that a SIGKILL of the probe process would leave behind (ipcrm -q removes it).
public struct OutsideWitness {
    /// The probe process's own links, read before any child exists.
    public let links: [NamespaceKind: Result<UInt64, Errno>]
    /// The listening socket's abstract name (without the leading NUL), or why there is none.
    public let socket: Result<String, Errno>
    let socketFD: Int32
    /// The message queue's id, or why there is none.
    public let messageQueue: Result<Int32, Errno>

    /// No witness: every link comparison is uncontrolled, and the acting proofs are skipped.
    public static let none = OutsideWitness(links: [:], socket: .failure(.ENOENT), socketFD: -1, messageQueue: .failure(.ENOENT))

    /// In the probe process, before it forks.
    public static func open() -> OutsideWitness {
        var links: [NamespaceKind: Result<UInt64, Errno>] = [:]
        for kind in NamespaceKind.allCases { links[kind] = ProcFiles.namespaceInode(kind.rawValue) }
        let name = "namespace-probe-\(getpid())"
        var fd = cnp_abstract_listen(name)
        var socket: Result<String, Errno> = fd >= 0 ? .success(name) : .failure(.current)
        // The control: connecting works here, under the same filters and LSM as the
        // children, so a child that cannot connect is in another network namespace.
        if fd >= 0, cnp_abstract_connect(name) != 0 {
            socket = .failure(.current)
            _ = Glibc.close(fd)
            fd = -1
        }
        let id = msgget(0 /* IPC_PRIVATE */, IPC_CREAT | 0o600)
        let queue: Result<Int32, Errno> = id >= 0 ? .success(id) : .failure(.current)
        return OutsideWitness(links: links, socket: socket, socketFD: fd, messageQueue: queue)
    }

    /// In the probe process, after the last child is reaped.
    public func close() {
        if socketFD >= 0 { _ = Glibc.close(socketFD) }
        if case .success(let id) = messageQueue { _ = msgctl(id, IPC_RMID, nil) }
    }
}

/// Whether /proc/self/ns/<kind> identifies a namespace here. Two processes in the same
/// namespace, the probe process and the one about to unshare, must read the same inode:
/// gVisor 20221219 gives every process its own number for every link, 20240729 for user.
/// Where they differ, no inode comparison proves anything and only acting does.
enum LinkControl: Equatable {
    /// Both read this inode: a different inode later is a different namespace.
    case evidence(UInt64)
    case noEvidence(outside: UInt64, here: UInt64)
    case unreadable(Errno)
    /// The probe process read nothing to compare with (no witness).
    case uncontrolled

    /// `here`: the link read by the process about to unshare, before unshare().
    static func check(_ kind: NamespaceKind, here: Result<UInt64, Errno>, _ ctx: ProbeContext) -> LinkControl {
        check(kind, here: here, ctx.witness)
    }

    static func check(_ kind: NamespaceKind, here: Result<UInt64, Errno>, _ witness: OutsideWitness) -> LinkControl {
        guard let outside = witness.links[kind] else { return .uncontrolled }
        switch (outside, here) {
        case (.failure(let e), _), (_, .failure(let e)): return .unreadable(e)
        case (.success(let a), .success(let b)): return a == b ? .evidence(a) : .noEvidence(outside: a, here: b)
        }
    }

    var isEvidence: Bool { if case .evidence = self { return true } else { return false } }

    /// Why the link proves nothing, for a step's detail.
    func why(_ kind: NamespaceKind) -> String {
        switch self {
        case .evidence(let a): return "the probe process and this process both read inode \(a)"
        case .noEvidence(let a, let b):
            return "the link is no evidence here: in the same \(kind.rawValue) namespace the probe process reads inode \(a) and this process \(b)"
        case .unreadable(let e): return "/proc/self/ns/\(kind.rawValue) cannot be read (\(e.name))"
        case .uncontrolled: return "the link is no evidence: the probe process read no control"
        }
    }
}
