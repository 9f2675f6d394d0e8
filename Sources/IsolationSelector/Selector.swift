import NamespaceProbe

/// Picks the backend from a report. A pure function: report in, selection out, no syscalls.
/// A backend is available only when every step it relies on was observed to work; a
/// timeout, a kill or an unverifiable namespace is missing evidence and never counts.
public enum Selector {
    public static func select(_ report: Report, excluding: Set<Backend> = []) -> Selection {
        let chain = ChainEvidence(report.sandboxChain)
        var candidates: [Candidate] = []
        for backend in Backend.allCases {
            let shortfalls = requirements(backend, report, chain) + rootTenant(backend, report)
            candidates.append(Candidate(backend: backend, available: shortfalls.isEmpty,
                                        excluded: excluding.contains(backend), shortfalls: shortfalls))
        }
        let chosen = candidates.first { $0.available && !$0.excluded }?.backend ?? .directories
        let hardening = hardeningItems(report)
        let advice = chosen <= .uid
            ? "nothing stronger than \(chosen.name) works in this container: for real tenant isolation run each tenant in its own sandbox outside it (a VM or a gVisor sandbox per tenant)"
            : nil
        let mode = chosen == .namespaces ? chain.full : chosen == .namespacesSharedProc ? chain.sharedProc : nil
        var selection = Selection(chosen: chosen, candidates: candidates, hardening: hardening,
                                  parameters: parameters(chosen, report, chain, hardening, candidates), advice: advice,
                                  warning: chosen == .directories ? directoriesWarning : nil,
                                  context: context(chosen, report, hardening, kinds: mode?.kinds ?? []))
        if let mode {
            selection.leftOpen = SandboxChainProbe.namespaces.filter { !mode.kinds.contains($0) }.map(missingKind)
        }
        if report.identitySwitch.facts[IdentitySwitchProbe.environGuardedFact] == "0", [.namespacesSharedProc, .landlock, .uid].contains(chosen) {
            selection.leftOpen.append(unguardedEnviron)
        }
        return selection
    }

    public static let unguardedEnviron = "other tenants' environments in /proc/PID/environ, their tokens included: this kernel lets any uid read them (measured by the uid switch probe; gVisor 20221219 does) (A14)"
    static let directoriesWarning = "any interpreter the agent runs (python, node, bash) reads whatever the shared uid can read: no kernel-enforced isolation"

    /// The layers `probe launch` adds to the chosen backend when they were observed to work:
    /// the per-tenant uid and Landlock under every kernel-enforced backend (LaunchPlan), and
    /// the namespace kinds the chain got here.
    static func context(_ b: Backend, _ r: Report, _ hardening: [Hardening], kinds: [NamespaceKind]) -> IsolationContext {
        let has = { (name: String) in hardening.contains { $0.name == name && $0.available } }
        let gvisor = r.runtime("gvisor")?.confidence == .yes
        guard b != .directories else { return IsolationContext(backend: b, seccomp: has("seccomp filter"), gvisor: gvisor) }
        return IsolationContext(backend: b, network: kinds.contains(.net) || kinds.isEmpty ? nil : .shared,
                                perTenantUid: b == .uid || has("per-tenant uid"),
                                landlockABI: has("landlock") ? r.landlockABI ?? 1 : nil, seccomp: has("seccomp filter"),
                                namespaces: kinds.isEmpty ? nil : Set(kinds.map(\.rawValue)), gvisor: gvisor)
    }

    /// What a namespace kind the container refuses leaves open (attack ids of the catalogue).
    static func missingKind(_ kind: NamespaceKind) -> String {
        switch kind {
        case .net: return "no network namespace here: tenants share the container's network, its loopback services and abstract unix sockets (A20, A22); launches run --network shared"
        case .ipc: return "no ipc namespace here: SysV IPC objects and POSIX message queues are shared between tenants (A09)"
        case .uts: return "no uts namespace here: tenants share the hostname (changing it still needs CAP_SYS_ADMIN, which tenants lack)"
        default: return "no \(kind.rawValue) namespace here"
        }
    }

    /// As root without a working uid switch, every backend would leave the tenant at kernel
    /// uid 0 (a user namespace maps it there too), which owns every root file and is not
    /// bound by RLIMIT_NPROC: `probe launch` refuses that, so no backend is available.
    static func rootTenant(_ backend: Backend, _ r: Report) -> [Shortfall] {
        guard r.environment.uid == 0, r.identitySwitch.verdict != .ok else { return [] }
        return [Shortfall(requirement: "a tenant of a root server runs as a uid of its own", probe: "identity_switch",
                          step: r.identitySwitch.failedStep, errno: r.identitySwitch.errno?.name,
                          cause: "the uid switch failed here, so the tenant would be uid 0; give the container CAP_SETUID and CAP_SETGID, or run the server as a non-root user")]
    }

    static func requirements(_ backend: Backend, _ r: Report, _ chain: ChainEvidence) -> [Shortfall] {
        switch backend {
        case .namespaces:
            guard let mode = chain.full else { return chain.shortfalls(requirement: "the sandbox chain works with a fresh /proc") }
            return verifiedNamespaces(r, mode)
        case .namespacesSharedProc:
            guard let mode = chain.sharedProc else { return chain.shortfalls(requirement: "the sandbox chain works with the container's /proc") }
            return verifiedNamespaces(r, mode)
        case .landlock:
            return [
                shortfall("Landlock denies an open outside the allowed directory", "landlock", r.landlockEnforcement),
                shortfall("a seccomp filter can be installed under no_new_privs", "seccomp.own_filter", r.seccompOwnFilter),
            ].compactMap { $0 }
        case .uid:
            return [shortfall("a child switches to another uid and is refused a 0700 directory", "identity_switch", r.identitySwitch)].compactMap { $0 }
        case .directories:
            return []
        }
    }

    /// The chain itself proves pid (PID 1) and mnt (a root the parent cannot see); net, ipc
    /// and uts are proven by their own probes, in the mode the chain used.
    static func verifiedNamespaces(_ r: Report, _ mode: ChainEvidence.Mode) -> [Shortfall] {
        let modeName = mode.inUserNamespace ? "in_user_namespace" : "as_is"
        return mode.kinds.compactMap { kind in
            guard let ns = r.namespace(kind) else { return nil }
            return shortfall("the \(kind.rawValue) namespace is verified new and usable (\(modeName))",
                             "namespaces.\(kind.rawValue).\(modeName)", mode.inUserNamespace ? ns.inUserNamespace : ns.asIs)
        }
    }

    static func shortfall(_ requirement: String, _ probe: String, _ result: ProbeResult) -> Shortfall? {
        guard result.verdict != .ok else { return nil }
        return Shortfall(requirement: requirement, probe: probe, step: result.failedStep,
                         errno: result.errno?.name ?? result.signal.map(SignalName.name),
                         cause: result.cause ?? result.detail ?? "verdict \(result.verdict.rawValue)")
    }

    static func hardeningItems(_ r: Report) -> [Hardening] {
        let nnp = r.seccompOwnFilter.steps.first { $0.name.hasPrefix("prctl(PR_SET_NO_NEW_PRIVS") }
        return [
            Hardening(name: "per-tenant uid", available: r.identitySwitch.verdict == .ok,
                      evidence: evidence(r.identitySwitch, ok: "setresuid to uid \(r.identitySwitch.facts["target_uid"] ?? "?") worked and it was refused a 0700 directory")),
            Hardening(name: "no_new_privs", available: nnp?.outcome == .ok,
                      evidence: nnp?.outcome == .ok ? "prctl(PR_SET_NO_NEW_PRIVS) worked in a child" : "prctl(PR_SET_NO_NEW_PRIVS) \(nnp?.errno?.name ?? "not observed")"),
            Hardening(name: "seccomp filter", available: r.seccompOwnFilter.verdict == .ok,
                      evidence: evidence(r.seccompOwnFilter, ok: "the tenant filter installed and answered EPERM to ioctl TIOCSTI")),
            Hardening(name: "landlock", available: r.landlockEnforcement.verdict == .ok,
                      evidence: r.landlockEnforcement.verdict == .ok ? "ABI \(r.landlockABI ?? 0): a ruleset denied opening /"
                          : r.landlockABIErrno.map { "landlock_create_ruleset: \($0.name)" } ?? evidence(r.landlockEnforcement, ok: "")),
        ]
    }

    static func evidence(_ r: ProbeResult, ok: String) -> String {
        if r.verdict == .ok { return ok }
        return "\(r.verdict.rawValue)\(r.failedStep.map { " at '\($0)'" } ?? "")\(r.errno.map { " \($0.name)" } ?? "")"
    }

    /// The launcher's inputs (`--format env`): the choice, every available backend, and the
    /// verified facts each layer needs, whichever backend was chosen, so `probe launch
    /// --backend` can apply any available one and layer every verified extra.
    static func parameters(_ b: Backend, _ r: Report, _ chain: ChainEvidence, _ hardening: [Hardening],
                           _ candidates: [Candidate]) -> [(String, String)] {
        var p: [(String, String)] = [("ISOLATION_BACKEND", b.name)]
        p.append(("ISOLATION_AVAILABLE", candidates.filter { $0.available && !$0.excluded }.map(\.backend.name).joined(separator: ",")))
        if let mode = chain.full ?? chain.sharedProc {
            p.append(("ISOLATION_NAMESPACES", mode.kinds.map(\.rawValue).joined(separator: ",")))
            p.append(("ISOLATION_USER_NAMESPACE", mode.inUserNamespace ? "1" : "0"))
            p.append(("ISOLATION_PROC", b == .namespacesSharedProc || chain.full == nil ? "shared" : "fresh"))
        }
        if r.landlockEnforcement.verdict == .ok {
            p.append(("ISOLATION_LANDLOCK_ABI", String(r.landlockABI ?? 0)))
        }
        p.append(("ISOLATION_UID_SWITCH", r.identitySwitch.verdict == .ok ? "1" : "0"))
        if let guarded = r.identitySwitch.facts[IdentitySwitchProbe.environGuardedFact] { p.append(("ISOLATION_ENVIRON_GUARDED", guarded)) }
        p.append(("ISOLATION_PROBE_UID", String(r.environment.uid)))
        if let target = r.identitySwitch.facts["target_uid"] { p.append(("ISOLATION_TENANT_UID_PROBED", target)) }
        for h in hardening {
            let key = "ISOLATION_HARDENING_" + h.name.uppercased().map { $0.isLetter || $0.isNumber ? String($0) : "_" }.joined()
            p.append((key, h.available ? "1" : "0"))
        }
        p.append(("ISOLATION_GVISOR", r.runtime("gvisor")?.confidence.rawValue ?? "no"))
        return p
    }
}

/// Reads the sandbox chain's steps: which mode (as is / in a user namespace) ran the whole
/// chain with a fresh /proc, and which ran it with the container's /proc bound instead.
struct ChainEvidence {
    struct Mode {
        let inUserNamespace: Bool
        let result: ProbeResult
        /// The kinds the chain unshared (all of them in reports that predate the fact).
        var kinds: [NamespaceKind] {
            guard let text = result.facts[SandboxChainProbe.kindsFact] else { return SandboxChainProbe.namespaces }
            return text.split(separator: ",").compactMap { NamespaceKind(rawValue: String($0)) }
        }
    }
    let modes: [Mode]
    let full: Mode?
    let sharedProc: Mode?

    init(_ chain: ModeResults) {
        modes = [Mode(inUserNamespace: false, result: chain.asIs), Mode(inUserNamespace: true, result: chain.inUserNamespace)]
        full = modes.first { $0.result.verdict == .ok }
        // A chain that mounts a fresh /proc can always bind the container's instead.
        sharedProc = full ?? modes.first { ChainEvidence.worksWithSharedProc($0.result) }
    }

    /// Every step observed ok except the fresh proc mount, the container's /proc bound
    /// instead, and the chain carried through to a working loopback.
    static func worksWithSharedProc(_ r: ProbeResult) -> Bool {
        guard r.verdict == .failed, r.failedStep == SandboxChainProbe.freshProcStep else { return false }
        let others = r.steps.filter { $0.name != SandboxChainProbe.freshProcStep }
        return others.allSatisfy { $0.outcome != .failed }
            && others.contains { $0.name == SandboxChainProbe.sharedProcStep && $0.outcome == .ok }
            && others.contains { $0.name == "parent does not see the new root" && $0.outcome == .ok }
            && others.contains { $0.name == "loopback carries a UDP datagram" && $0.outcome != .failed }
    }

    /// The mode that got furthest first: its failing step is the informative one.
    func shortfalls(requirement: String) -> [Shortfall] {
        modes.sorted { $0.result.steps.count > $1.result.steps.count }.compactMap { m in
            Selector.shortfall(requirement + (m.inUserNamespace ? " (in a user namespace)" : " (as is)"),
                               m.inUserNamespace ? "sandbox_chain.in_user_namespace" : "sandbox_chain.as_is", m.result)
        }
    }
}
