/// Turns a failure (probe, step, errno or signal) into the most likely cause in words, and
/// what it means for the backend choice. Keyed by what was observed, never guessed from
/// the runtime name alone.
public struct Explain {
    public let environment: EnvironmentFacts
    public let capabilities: CapabilitySets
    /// unshare(0) failed: the syscall itself is filtered.
    public let unshareSyscallBlocked: Bool
    public let gvisor: Bool
    /// Flag names (CLONE_NEWNET ...) whose unshare() as is returned 0: a filter that refuses
    /// some kinds and allows these is a per-kind filter.
    public let unshareAllowed: [String]

    public init(environment: EnvironmentFacts, capabilities: CapabilitySets, unshareSyscallBlocked: Bool, gvisor: Bool,
                unshareAllowed: [String] = []) {
        self.environment = environment
        self.capabilities = capabilities
        self.unshareSyscallBlocked = unshareSyscallBlocked
        self.gvisor = gvisor
        self.unshareAllowed = unshareAllowed
    }

    /// CAP_SETFCAP (linux/capability.h).
    static let setfcap = 31
    var seccompFiltered: Bool { environment.seccompMode == 2 }
    /// Linux version as (major, minor) from the release string, nil when unparsable.
    var kernel: (Int, Int)? {
        let parts = environment.kernelRelease.split(whereSeparator: { $0 == "." || $0 == "-" }).prefix(2).compactMap { Int($0) }
        return parts.count == 2 ? (parts[0], parts[1]) : nil
    }

    /// The cause, ending with what it means for the choice of backend.
    public func cause(probe: String, result: ProbeResult) -> String? {
        guard let text = evidence(probe: probe, result: result) else { return nil }
        return text.contains("backend") ? text : text + "; " + Self.meaning(probe)
    }

    /// What a failure of this probe costs the backend choice (IsolationSelector's requirements).
    static func meaning(_ probe: String) -> String {
        switch probe {
        case "ns.user": return "the namespace backends can only run as is (with CAP_SYS_ADMIN), never rootless"
        case "ns.cgroup", "ns.time": return "no backend needs this namespace"
        case SandboxChainProbe.probeName: return "the namespace backends cannot run in this mode"
        case _ where probe.hasPrefix("ns."): return "the namespace backends need this namespace, so they cannot run in this mode"
        case "landlock": return "no landlock backend"
        case "seccomp.filter": return "no landlock backend, and no seccomp hardening"
        case "seccomp.listener", "ptrace": return "no backend needs it"
        case "identity": return "no uid backend"
        case "unshare.invalid_flag": return "return codes prove nothing here, so every backend rests on observed effects only"
        default: return "backends that need it are unavailable"
        }
    }

    func evidence(probe: String, result: ProbeResult) -> String? {
        switch result.verdict {
        case .ok, .notRun: return nil
        case .timeout:
            return "did not finish before the deadline (--timeout); nothing can be concluded, so no backend relies on it"
        case .killed:
            if result.signal == 31 {
                return "SIGSYS: a seccomp filter kills the process on this syscall; anything needing it is unavailable"
            }
            return "the probe was killed by \(SignalName.name(result.signal ?? 0)) in this step"
        case .unverifiable:
            guard probe.hasPrefix("ns.") else { return result.detail ?? "nothing observed could prove the effect" }
            return "unshare() returned 0 but nothing observed proves a new namespace (\(result.detail ?? "no proof")); treated as unavailable, so no namespace backend relies on it"
        case .failed:
            let failed = result.steps.first { $0.outcome == .failed }
            if let restricted = appArmorUserns(result) { return restricted }
            return stepCause(probe: probe, step: result.failedStep ?? "", errno: result.errno, detail: failed?.detail ?? result.detail)
        }
    }

    /// Ubuntu 23.10+: with kernel.apparmor_restrict_unprivileged_userns=1, an unconfined
    /// process gets its user namespace, then loses every capability in it, so the steps after
    /// a successful unshare(CLONE_NEWUSER) (uid_map, mounts, the loopback address) fail.
    func appArmorUserns(_ result: ProbeResult) -> String? {
        guard environment.sysctl("kernel.apparmor_restrict_unprivileged_userns") == "1",
              let errno = result.errno, errno == .EPERM || errno == .EACCES,
              let step = result.failedStep, !step.hasPrefix("unshare("),
              result.steps.contains(where: { $0.name == "unshare(CLONE_NEWUSER)" && $0.outcome == .ok }) else { return nil }
        let label = environment.lsmLabel.map { " (this process's LSM label: \($0))" } ?? ""
        return "\(errno.name) at \(step) after unshare(CLONE_NEWUSER) succeeded, with kernel.apparmor_restrict_unprivileged_userns=1 (Ubuntu 23.10 and later): AppArmor lets the namespace be created and takes its capabilities away\(label); give the server an AppArmor profile that allows userns, or set the sysctl to 0, else no rootless namespace backend"
    }

    func stepCause(probe: String, step: String, errno: Errno?, detail: String?) -> String {
        let hasAdmin = capabilities.hasEffective(CapabilitySets.sysAdmin)
        let isUserStep = step.contains("CLONE_NEWUSER") || probe.hasPrefix("ns.user")
        switch errno {
        case .some(.EPERM):
            if step == "unshare(0)" || unshareSyscallBlocked {
                return "EPERM even for unshare(0): a seccomp filter blocks the syscall itself (Docker's default profile does this without CAP_SYS_ADMIN)"
            }
            if step.hasPrefix("unshare(") && isUserStep {
                if environment.sysctl("kernel.unprivileged_userns_clone") == "0" {
                    return "EPERM: kernel.unprivileged_userns_clone=0 forbids user namespaces to unprivileged users"
                }
                if environment.root.chrooted == true {
                    return "EPERM creating a user namespace: this process is in a chroot (\(environment.root.evidence)), and the kernel refuses CLONE_NEWUSER to a process whose root is not its mount namespace's root; run the server outside the chroot (in a container, whose root comes from pivot_root) for any backend that needs a user namespace"
                }
                if seccompFiltered {
                    return "EPERM creating a user namespace with a seccomp filter in place (Seccomp: 2) and user namespaces enabled: the filter refuses CLONE_NEWUSER; no rootless namespace backend here unless the container's profile allows it"
                }
                return "EPERM creating a user namespace: forbidden by an LSM or nesting rules (\(environment.root.evidence)); no rootless namespace backend here"
            }
            if step.hasPrefix("unshare(") {
                let flags = step.dropFirst(8).prefix { $0 != ")" }.split(separator: "|").map(String.init)
                if hasAdmin && seccompFiltered {
                    let refused = flags.filter { !unshareAllowed.contains($0) }
                    let allowed = unshareAllowed.filter { !flags.contains($0) }
                    if !refused.isEmpty && !allowed.isEmpty {
                        return "EPERM with CAP_SYS_ADMIN held, from the seccomp filter in place (Seccomp: 2): it refuses \(refused.joined(separator: ", ")) and allows \(allowed.joined(separator: ", ")), a filter per namespace kind like systemd's RestrictNamespaces=; no backend that needs \(refused.joined(separator: " or ")) is possible here"
                    }
                    return "EPERM with CAP_SYS_ADMIN held, from the seccomp filter in place (Seccomp: 2): it refuses \(flags.joined(separator: "|")); no namespace backend can rely on this namespace here"
                }
                if hasAdmin && environment.seccompMode == 0 {
                    let label = environment.lsmLabel.map { " (this process's LSM label: \($0))" } ?? ""
                    return "EPERM with CAP_SYS_ADMIN held and no seccomp filter (Seccomp: 0): an LSM denies this namespace\(label)"
                }
                return hasAdmin ? "EPERM with CAP_SYS_ADMIN held: a seccomp filter or LSM denies this namespace"
                    : "EPERM: creating this namespace needs CAP_SYS_ADMIN, which this process lacks; a user namespace is the rootless way"
            }
            if step == SandboxChainProbe.freshProcStep {
                return "EPERM mounting a fresh /proc: the container masks parts of /proc (read-only or over-mounted paths), and the kernel refuses a proc mount that would reveal them"
            }
            if step.hasPrefix("write /proc/self/uid_map") && environment.euid == 0 && !capabilities.hasEffective(Self.setfcap) {
                return "EPERM writing uid_map: mapping uid 0 needs CAP_SETFCAP (Linux 5.12 and later), which this root process lacks (as in a container run with --cap-drop ALL); keep CAP_SETFCAP or run the server as a non-root uid, else no namespace backend can use a user namespace"
            }
            if step.hasPrefix("write /proc/self/uid_map") || step.hasPrefix("write /proc/self/gid_map") {
                return "EPERM writing the id map: the map does not match the caller's ids, or setgroups was not denied first"
            }
            if step.hasPrefix("make / private") {
                return "EPERM changing mount propagation: the mount namespace is not ours to change (gVisor refuses this inside a user namespace)"
            }
            if step.hasPrefix("setresuid") || step.hasPrefix("setresgid") || step.hasPrefix("setgroups") {
                return "EPERM: switching uid needs CAP_SETUID/CAP_SETGID; one uid per tenant is not possible here"
            }
            if step.hasPrefix("install filter") || step.hasPrefix("prctl(PR_SET_NO_NEW_PRIVS") {
                return "EPERM: installing a seccomp filter needs no_new_privs or CAP_SYS_ADMIN"
            }
            if step.hasPrefix("PTRACE") { return "EPERM: ptrace is denied (yama ptrace_scope, an LSM, or a seccomp filter)" }
            return "EPERM: the operation is not permitted here (missing capability or a filter)"
        case .some(.ENOSPC):
            if environment.sysctl("user.max_user_namespaces") == "0" {
                return "ENOSPC: user.max_user_namespaces=0 disables user namespaces"
            }
            return "ENOSPC: a namespace count limit (user.max_*_namespaces) is reached"
        case .some(.EUSERS):
            return "EUSERS: user namespace nesting is too deep"
        case .some(.EACCES):
            let label = environment.lsmLabel.map { " (this process's LSM label: \($0))" } ?? ""
            if step.hasPrefix("write /proc/self/") {
                if environment.sysctl("kernel.apparmor_restrict_unprivileged_userns") == "1" {
                    return "EACCES writing \(step.dropFirst(6)) after unshare(CLONE_NEWUSER) succeeded: AppArmor's kernel.apparmor_restrict_unprivileged_userns=1 (Ubuntu 23.10 and later) lets the namespace be created and refuses what follows\(label); give the server an AppArmor profile that allows userns, or set the sysctl to 0, else no rootless namespace backend"
                }
                return "EACCES writing \(step.dropFirst(6)), a step the caller's capabilities allow: an LSM refuses it\(label), or the file is not writable here; no rootless namespace backend until the LSM policy allows it"
            }
            if step.contains("mount") || step.hasPrefix("make / private") || step.hasPrefix("pivot_root") {
                return "EACCES at a mount step that CAP_SYS_ADMIN allows: an LSM refuses mounts\(label), as Docker's AppArmor profile docker-default refuses every mount; run with a profile that allows mount for a namespace backend, else only landlock, uid or directories"
            }
            return "EACCES: permission denied by file modes or an LSM\(label)"
        case .some(.EINVAL):
            if step.hasPrefix("make / private") {
                return gvisor ? "EINVAL changing mount propagation: gVisor does not implement MS_PRIVATE on /; mounts would leak to the parent"
                    : "EINVAL changing mount propagation: / is not a mount point in this namespace (e.g. chroot)"
            }
            if step.hasPrefix("unshare(") {
                return "EINVAL: the kernel does not support this namespace kind, or the process is multi-threaded"
            }
            if step.hasPrefix("pivot_root") { return "EINVAL from pivot_root: the new root is not a mount point or shares propagation with /" }
            return "EINVAL: the kernel rejected the arguments of this step"
        case .some(.ENOSYS):
            if gvisor { return "ENOSYS: the syscall is not implemented (gVisor emulates the kernel and lacks it)" }
            if probe.hasPrefix("landlock") || step.hasPrefix("landlock"), let (major, minor) = kernel, (major, minor) >= (5, 13) {
                return seccompFiltered
                    ? "ENOSYS from Landlock on Linux \(major).\(minor), which has it since 5.13, with a seccomp filter in place (Seccomp: 2): the container's seccomp profile hides Landlock; allow landlock_create_ruleset, landlock_add_rule and landlock_restrict_self in it to use the landlock backend"
                    : "ENOSYS from Landlock on Linux \(major).\(minor) with no seccomp filter: the kernel is built without CONFIG_SECURITY_LANDLOCK; no landlock backend"
            }
            if step.hasPrefix("unshare(") && seccompFiltered {
                return "ENOSYS from unshare(2), which every Linux since 2.6.16 has, with a seccomp filter in place (Seccomp: 2): the filter answers ENOSYS for it"
            }
            return "ENOSYS: the kernel does not implement this syscall (too old, or built without it), or a seccomp filter answers ENOSYS"
        case .some(.EOPNOTSUPP):
            return "EOPNOTSUPP: built into the kernel but disabled (e.g. Landlock not in the lsm= boot list)"
        case .some(.ENOENT):
            if step.contains("timens_offsets") {
                return "ENOENT: /proc/self/timens_offsets does not exist: unshare returned 0 but time namespaces are not implemented"
            }
            return "ENOENT: a file this step needs does not exist here"
        case .some(let e):
            return "\(e.name): \(e.message)"
        case .none:
            return detail ?? "the step's effect was not observed"
        }
    }
}
