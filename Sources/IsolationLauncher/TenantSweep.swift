import Glibc
import CNamespaceProbe
import NamespaceProbe

/// Without a pid namespace, a tenant's process can outlive its launch where the subreaper
/// does not catch it: gVisor 20221219 reparents orphans to PID 1, and a launcher killed by
/// SIGKILL leaves its tenant's tree behind. With a per-tenant uid every such process is
/// known by its uid: at the end of a launch, when no other launch of the same tenant runs,
/// a child switched to that uid kills every process of it (kill(-1, SIGKILL), kill(2)).
/// "No other launch runs" is a lock in `<root>/.locks/<tenant>`, shared while a launch
/// runs and taken exclusively for the sweep; the directory is the launcher's, 0700, so a
/// tenant cannot hold the lock to keep its daemons alive.
struct TenantSweep {
    let lockFD: Int32

    /// Takes the shared lock; nil (no sweep) when the lock cannot be made.
    static func begin(rootFD: Int32, tenant: TenantID) -> TenantSweep? {
        if mkdirat(rootFD, ".locks", 0o700) != 0 && errno != EEXIST { return nil }
        let dir = openat(rootFD, ".locks", O_RDONLY | O_DIRECTORY | O_CLOEXEC | cnp_O_NOFOLLOW)
        guard dir >= 0 else { return nil }
        defer { close(dir) }
        var st = stat()
        guard fstat(dir, &st) == 0, st.st_uid == geteuid(), st.st_mode & 0o077 == 0 else { return nil }
        let fd = openat(dir, tenant.value, O_RDWR | O_CREAT | O_CLOEXEC | cnp_O_NOFOLLOW, 0o600)
        guard fd >= 0 else { return nil }
        guard flock(fd, LOCK_SH) == 0 else { close(fd); return nil }
        return TenantSweep(lockFD: fd)
    }

    /// Real, effective, saved and filesystem uids as the kernel reports them.
    /// Parsed on bytes: this runs in a child forked for one call, where every generic type
    /// used for the first time costs a runtime lookup (measured with perf).
    static func kernelUIDs() -> [uid_t] {
        guard case .success(let text) = ProcFiles.read("/proc/self/status") else { return [] }
        let bytes = Array(text.utf8)
        let key: [UInt8] = Array("\nUid:".utf8)
        guard let start = (0..<(bytes.count - key.count)).first(where: { bytes[$0..<($0 + key.count)].elementsEqual(key) }) else { return [] }
        var uids: [uid_t] = []
        var current: uid_t?
        for b in bytes[(start + key.count)...] {
            if b >= 0x30 && b <= 0x39 { current = (current ?? 0) &* 10 &+ uid_t(b - 0x30); continue }
            if let c = current { uids.append(c); current = nil }
            if b == 0x0A { break }
        }
        return uids
    }

    /// Kills every process of `uid` if no other launch of the tenant holds the lock, then
    /// releases it. Returns the step for the status.
    func end(uid: uid_t, gid: gid_t) -> Step {
        defer { close(lockFD) }
        let name = "kill every process of uid \(uid)"
        guard flock(lockFD, LOCK_EX | LOCK_NB) == 0 else {
            return Step(name: name, outcome: .skipped, detail: "another launch of this tenant runs: its processes are its own")
        }
        let pid = fork()
        if pid == 0 {
            // The kill must come from the tenant's uid: kill(-1) then reaches exactly the
            // processes that uid may signal, its own, and never this helper.
            guard cnp_setgroups_empty() == 0, cnp_setresgid(gid, gid, gid) == 0, cnp_setresuid(uid, uid, uid) == 0 else { _exit(125) }
            // kill(-1) as root would end every process of the machine: the switch is checked
            // in /proc/self/status, which no interposed libc call (LD_PRELOAD) can fake,
            // before the one call that would be fatal with the wrong credentials.
            guard uid != 0, TenantSweep.kernelUIDs() == [uid, uid, uid, uid] else { _exit(126) }
            _exit(kill(-1, SIGKILL) == 0 || errno == ESRCH ? 0 : 1)
        }
        guard pid > 0 else { return Step(name: name, outcome: .failed, errno: .current, detail: "fork") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let code = cnp_wifexited(status) != 0 ? cnp_wexitstatus(status) : 128 + cnp_wtermsig(status)
        switch code {
        case 0: return Step(name: name, outcome: .ok, detail: "no other launch of this tenant ran")
        case 126: return Step(name: name, outcome: .failed, detail: "the helper's uid switch did not show in /proc/self/status: nothing was killed")
        default: return Step(name: name, outcome: .failed, detail: "the helper exited \(code)")
        }
    }
}
