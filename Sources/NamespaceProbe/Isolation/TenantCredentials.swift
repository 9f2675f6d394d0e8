import Glibc
import CNamespaceProbe

/// Who the tenant runs as, and the steps that make it so. Shared by the probe's uid-switch
/// and sandbox-chain probes and by the launcher.
public enum TenantCredentials {
    /// The ids the tenant has inside a user namespace the launcher made: the outer ids
    /// themselves, except root, which becomes 1000 (a process with a non-zero uid loses every
    /// capability at execve, capabilities(7)), so the tenant is never root inside.
    public static func insideUserNamespace(outerUID: uid_t, outerGID: gid_t) -> (uid: uid_t, gid: gid_t) {
        (outerUID == 0 ? 1000 : outerUID, outerGID == 0 ? 1000 : outerGID)
    }

    /// setgroups([]), setresgid, setresuid, then a check that all three uids changed.
    /// Needs CAP_SETGID and CAP_SETUID; after it the process holds no capability unless the
    /// target is 0 (capabilities(7), "Effect of user ID changes on capabilities").
    public static func switchTo(uid: uid_t, gid: gid_t, _ w: StepWriter) -> Bool {
        w.step("setgroups([])") { .check(cnp_setgroups_empty()) }
            && w.step("setresgid(\(gid))") { .check(cnp_setresgid(gid, gid, gid)) }
            && w.step("setresuid(\(uid))") { .check(cnp_setresuid(uid, uid, uid)) }
            && w.step("real, effective and saved uid switched") {
                var r: uid_t = 0, e: uid_t = 0, s: uid_t = 0
                guard cnp_getresuid(&r, &e, &s) == 0 else { return .failed(.current) }
                return r == uid && e == uid && s == uid ? .ok() : .failed(nil, "uids are \(r) \(e) \(s)")
            }
    }

    /// Clears the ambient set, drops the bounding set where CAP_SETPCAP allows, and empties
    /// the effective, permitted and inheritable sets. Fails when the process would still be
    /// uid 0 with capabilities in its bounding set: execve would give them back.
    public static func dropCapabilities(_ w: StepWriter) -> Bool {
        w.step("drop capabilities") {
            _ = cnp_prctl(cnp_PR_CAP_AMBIENT, UInt(cnp_PR_CAP_AMBIENT_CLEAR_ALL), 0, 0, 0)
            var kept = 0
            // Only root gets its bounding set back at execve; for any other uid, with
            // no_new_privs, an empty permitted set is the end of it (capabilities(7)).
            if geteuid() == 0 {
                // CapBnd from /proc/self/status: one read instead of 64 prctl calls (each
                // 20 to 40 us under gVisor).
                let bounding = boundingSet() ?? UInt64.max
                for cap in 0...63 where bounding & (1 << UInt64(cap)) != 0 {
                    if cnp_prctl(cnp_PR_CAPBSET_DROP, UInt(cap), 0, 0, 0) != 0 && errno != EINVAL { kept += 1 }
                }
            }
            guard cnp_capset_empty() == 0 else { return .failed(.current, "capset") }
            if geteuid() == 0 && kept > 0 {
                return .failed(nil, "uid 0 keeps \(kept) capabilities in its bounding set (no CAP_SETPCAP to drop them) and execve would restore them")
            }
            return .ok(geteuid() == 0 ? "bounding set emptied" : "no capability left for uid \(geteuid())")
        }
    }

    static func boundingSet() -> UInt64? {
        guard case .success(let text) = ProcFiles.read("/proc/self/status"),
              let hex = Parsers.statusFields(text)["CapBnd"] else { return nil }
        return UInt64(hex, radix: 16)
    }
}
