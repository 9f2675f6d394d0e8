/// The sandbox chain first, while the child is untouched, then the probes that need a child
/// but no namespace: unknown unshare flags, ptrace, a seccomp filter and listener of its own,
/// Landlock, and last the uid switch (it drops the rights the others run with). After the
/// chain the child sits in the chain's new mount, network, ipc and uts namespaces, which
/// none of these checks looks at. Filters and rulesets stay until the child exits, so each
/// comes after every probe it could disturb; the Landlock rule allows the scratch
/// directory, so the uid switch's EACCES there comes from file permissions alone. None of
/// them forks: the chain's new pid namespace is gone once its PID 1 has exited.
public enum ProcessControls {
    public static let jobID = "controls"
    public static let flagCheck = "unshare.invalid_flag", ptrace = "ptrace", seccompFilter = "seccomp.filter",
                      seccompListener = "seccomp.listener", landlock = "landlock", identity = "identity"

    public static func job(_ ctx: ProbeContext) -> ProbeJob {
        let probes: [(String, (StepWriter) -> Void)] = [
            (flagCheck, UnshareFlagCheck.run),
            (ptrace, PtraceProbe.run),
            (seccompFilter, SeccompProbe.ownFilter),
            (seccompListener, SeccompProbe.listener),
            (landlock, { LandlockProbe.run($0, ctx) }),
            (identity, { IdentitySwitchProbe.run($0, ctx) }),
        ]
        return ProbeJob(id: jobID, sections: SandboxChainProbe.sections + probes.map(\.0)) { w, skip in
            SandboxChainProbe.run(w, skip, ctx)
            for (section, probe) in probes where !skip.contains(section) { probe(w.into(section)) }
        }
    }
}
