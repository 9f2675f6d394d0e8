import Glibc

/// Proof that unshare() really made a new namespace: its /proc/self/ns inode differs from
/// the one before. The caller's own link is read first (Linux updates it); where it did not
/// change or cannot be read, a forked child reads its own, because gVisor keeps the caller's
/// link stale after unshare() while children see the new namespace.
enum NamespaceVerification {
    enum Newness: Equatable { case new, notNew, unverifiable }

    static func stepName(_ kind: NamespaceKind) -> String { "namespace is new (/proc/self/ns/\(kind.rawValue))" }

    /// The identity to compare with, read before unshare().
    /// The root mount ID is the fallback proof for mnt, read only where the link is missing.
    static func before(_ kind: NamespaceKind) -> (inode: Result<UInt64, Errno>, rootMount: Int?) {
        let inode = ProcFiles.namespaceInode(kind.rawValue)
        guard kind == .mnt, case .failure = inode else { return (inode, nil) }
        return (inode, Parsers.rootMountID(ProcFiles.read("/proc/self/mountinfo")))
    }

    /// Records the step "namespace is new" and returns what it proved. A changed link of the
    /// caller itself is proof enough (Linux); an unchanged or unreadable one is re-read from a
    /// forked child, because gVisor keeps the caller's own link stale after unshare().
    static func verifyNew(_ kind: NamespaceKind, before: (inode: Result<UInt64, Errno>, rootMount: Int?),
                          _ w: StepWriter) -> Newness {
        if case .success(let a) = before.inode, case .success(let b) = ProcFiles.namespaceInode(kind.rawValue), a != b {
            w.record(stepName(kind), .ok("inode \(a) -> \(b)"))
            return .new
        }
        let name = stepName(kind)
        let run = Subprocess.run { () -> Int32 in
            let outcome = observe(kind, before: before)
            if case .ok(let detail) = outcome.1 {
                w.record(name, .ok((detail ?? "") + ", read in a child (the caller's own link did not change)"))
            } else {
                w.record(name, outcome.1)
            }
            switch outcome.0 {
            case .new: return 0
            case .notNew: return 1
            case .unverifiable: return 2
            }
        }
        switch run {
        case .success(.exited(0)): return .new
        case .success(.exited(1)): return .notNew
        case .success(.exited(2)): return .unverifiable
        case .success(let other):
            w.record(name, .failed(nil, "the verifying child ended abnormally (\(other))"))
            return .notNew
        case .failure(let e):
            w.record(name, .failed(e, "fork"))
            return .notNew
        }
    }

    /// For actions that fork their own first child (pid, time): that child records the proof.
    @discardableResult
    static func recordInChild(_ kind: NamespaceKind, outside: Result<UInt64, Errno>, _ w: StepWriter) -> Newness {
        let (newness, result) = observe(kind, before: (outside, nil))
        w.record(stepName(kind), result)
        return newness
    }

    private static func observe(_ kind: NamespaceKind, before: (inode: Result<UInt64, Errno>, rootMount: Int?)) -> (Newness, StepResult) {
        let after = ProcFiles.namespaceInode(kind.rawValue)
        switch (before.inode, after) {
        case (.success(let a), .success(let b)):
            return a != b ? (.new, .ok("inode \(a) -> \(b)"))
                : (.notNew, .failed(nil, "inode unchanged (\(a)): unshare returned 0 but no new namespace exists"))
        case (.failure(let e), _), (_, .failure(let e)):
            // A mount namespace has a second proof: a new one gets new mount IDs.
            if kind == .mnt, let old = before.rootMount, let now = Parsers.rootMountID(ProcFiles.read("/proc/self/mountinfo")) {
                return now != old ? (.new, .ok("no ns link (\(e.name)); root mount ID \(old) -> \(now)"))
                    : (.notNew, .failed(nil, "no ns link (\(e.name)) and root mount ID unchanged (\(old)): mounts are shared with the parent"))
            }
            return (.unverifiable, .skipped("unverifiable: /proc/self/ns/\(kind.rawValue) cannot be read (\(e.name))"))
        }
    }
}
