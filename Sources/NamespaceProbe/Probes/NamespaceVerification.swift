import Glibc

/// Proof that unshare() really made a new namespace: the /proc/self/ns inode changed.
enum NamespaceVerification {
    enum Newness: Equatable { case new, notNew, unverifiable }

    /// Records the step "namespace is new" and returns what it proved.
    static func verifyNew(_ kind: NamespaceKind, before: Result<UInt64, Errno>, rootMountBefore: Int? = nil,
                          _ w: StepWriter) -> Newness {
        let link = kind.verificationLink
        let stepName = "namespace is new (/proc/self/ns/\(link))"
        let after = ProcFiles.namespaceInode(link)
        switch (before, after) {
        case (.success(let a), .success(let b)):
            if a != b {
                w.record(stepName, .ok("inode \(a) -> \(b)"))
                return .new
            }
            w.record(stepName, .failed(nil, "inode unchanged (\(a)): unshare returned 0 but no new namespace exists"))
            return .notNew
        default:
            let e: Errno? = { if case .failure(let e) = before { return e }; if case .failure(let e) = after { return e }; return nil }()
            // A mount namespace has a second proof: a new one gets new mount IDs.
            if kind == .mnt, let old = rootMountBefore, let now = Parsers.rootMountID(ProcFiles.read("/proc/self/mountinfo")) {
                if now != old {
                    w.record(stepName, .ok("no ns link (\(e?.name ?? "?")); root mount ID \(old) -> \(now)"))
                    return .new
                }
                w.record(stepName, .failed(nil, "no ns link (\(e?.name ?? "?")) and root mount ID unchanged (\(old)): mounts would be shared with the parent"))
                return .notNew
            }
            w.record(stepName, .skipped("unverifiable: /proc/self/ns/\(link) cannot be read (\(e?.name ?? "?"))"))
            return .unverifiable
        }
    }
}
