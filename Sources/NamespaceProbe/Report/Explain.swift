/// Turns a failure (probe, step, errno or signal) into the most likely cause in words, and
/// what it means for the backend choice. Keyed by what was observed, never guessed from
/// the runtime name alone.
public struct Explain {
    public let environment: EnvironmentFacts
    public let capabilities: CapabilitySets
    /// unshare(0) failed: the syscall itself is filtered.
    public let unshareSyscallBlocked: Bool
    public let gvisor: Bool

    public init(environment: EnvironmentFacts, capabilities: CapabilitySets, unshareSyscallBlocked: Bool, gvisor: Bool) {
        self.environment = environment
        self.capabilities = capabilities
        self.unshareSyscallBlocked = unshareSyscallBlocked
        self.gvisor = gvisor
    }

    public func cause(probe: String, result: ProbeResult) -> String? {
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
            return "the call returned success but /proc/self/ns has no link to prove a new namespace\(gvisor ? " (gVisor shows only some links)" : ""); treated as unavailable"
        case .failed:
            let failed = result.steps.first { $0.outcome == .failed }
            return stepCause(probe: probe, step: result.failedStep ?? "", errno: result.errno, detail: failed?.detail ?? result.detail)
        }
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
                return "EPERM creating a user namespace: forbidden by a seccomp filter, an LSM, or nesting rules (e.g. chroot, or a parent that is not allowed to create them)"
            }
            if step.hasPrefix("unshare(") {
                return hasAdmin ? "EPERM with CAP_SYS_ADMIN held: a seccomp filter or LSM denies this namespace"
                    : "EPERM: creating this namespace needs CAP_SYS_ADMIN, which this process lacks; a user namespace is the rootless way"
            }
            if step == SandboxChainProbe.freshProcStep {
                return "EPERM mounting a fresh /proc: the container masks parts of /proc (read-only or over-mounted paths), and the kernel refuses a proc mount that would reveal them"
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
            if step.hasPrefix("write /proc/self/") {
                if environment.sysctl("kernel.apparmor_restrict_unprivileged_userns") == "1" {
                    return "EACCES writing the id map: AppArmor's unprivileged user namespace restriction denies it"
                }
                return "EACCES writing \(step.dropFirst(6)): an LSM denies it, or the file is not writable here"
            }
            return "EACCES: permission denied by file modes or an LSM"
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
            return gvisor ? "ENOSYS: the syscall is not implemented (gVisor emulates the kernel and lacks it)"
                : "ENOSYS: the kernel does not implement this syscall (too old, or built without it), or a seccomp filter answers ENOSYS"
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
