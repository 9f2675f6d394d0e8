import NamespaceProbe
import IsolationSelector

/// Every layer one launch applies, decided before anything runs: the backend and each
/// verified layer that fits it. A pure function of the request and the verified facts.
public struct LaunchPlan: Equatable {
    public enum Network: String, Equatable { case none, shared }

    public var backend: Backend
    public var network: Network
    /// Kinds unshared besides user (empty outside the namespace backends).
    public var namespaces: [NamespaceKind]
    public var userNamespace: Bool
    public var proc: RootPlan.ProcMode
    public var perTenantUID: Bool
    public var landlockABI: Int?
    public var seccompFilter: Bool
    /// False where any uid can read other processes' /proc/PID/environ (measured).
    public var environGuarded = true

    public var usesNamespaces: Bool { backend == .namespaces || backend == .namespacesSharedProc }

    /// Refuses a backend the probe did not verify, and `--network none` without a network
    /// namespace; never picks a weaker backend on its own.
    /// `launcherUID`: the launcher's effective uid. A tenant never runs as kernel uid 0: it
    /// would own every root file (the probe binary too) and RLIMIT_NPROC does not bind root.
    public static func make(requested: Backend?, network: Network?, facts: VerifiedFacts, launcherUID: UInt32) throws -> LaunchPlan {
        let backend = requested ?? facts.chosen
        guard facts.available.contains(backend) else {
            let list = Backend.allCases.filter { facts.available.contains($0) }.map(\.name).joined(separator: ", ")
            throw LaunchRefusal.usage("backend \(backend.name) was not verified in this container (\(facts.source) verified: \(list)); "
                + "run `probe` to see why, or choose one of those")
        }
        let namespaced = backend == .namespaces || backend == .namespacesSharedProc
        // The chain needs pid and mnt (SandboxChainProbe.requiredKinds): facts without them
        // come from a hand-cut env, not from the probe.
        if namespaced && !SandboxChainProbe.requiredKinds.allSatisfy(facts.namespaces.contains) {
            throw LaunchRefusal.usage("backend \(backend.name) with ISOLATION_NAMESPACES=\(facts.namespaces.map(\.rawValue).joined(separator: ",")): "
                + "the probe never verifies a namespace backend without pid and mnt; export every line of `probe --format env`")
        }
        // A container may refuse some kinds (RestrictNamespaces=): the verified ones are used.
        let verifiedNet = namespaced && facts.namespaces.contains(.net)
        let net = network ?? (verifiedNet ? .none : .shared)
        if net == .none && !verifiedNet {
            throw LaunchRefusal.usage("--network none needs a network namespace, which \(namespaced ? "this container refuses (the probe verified only \(facts.namespaces.map(\.rawValue).joined(separator: ",")))" : "backend \(backend.name) does not have"); "
                + "use --network shared (and read what it leaves open) or a namespace backend")
        }
        let order: [NamespaceKind] = [.pid, .mnt, .net, .ipc, .uts]
        let kinds = !namespaced ? [] : order.filter { facts.namespaces.contains($0) && ($0 != .net || net == .none) }
        // A backend named without the fact of its own layer (an env file cut short) is not
        // verified: running it would fail open.
        if backend == .landlock && facts.landlockABI == nil {
            throw LaunchRefusal.usage("backend landlock without ISOLATION_LANDLOCK_ABI: \(facts.source) does not say Landlock was enforced here; export every line of `probe --format env`")
        }
        if backend == .uid && !facts.uidSwitch {
            throw LaunchRefusal.usage("backend uid without ISOLATION_UID_SWITCH=1: \(facts.source) does not say a uid switch was verified here; export every line of `probe --format env`")
        }
        let kernelLayers = backend != .directories
        let perTenantUID = kernelLayers && facts.uidSwitch
        if launcherUID == 0 && !perTenantUID {
            throw LaunchRefusal.usage("backend \(backend.name) would run the tenant as uid 0, which owns every root file here (the "
                + "probe binary too) and is not bound by RLIMIT_NPROC; "
                + (facts.available.contains(.uid) ? "use --backend uid or stronger (a per-tenant uid was verified here), or run the server as a non-root user"
                   : "no per-tenant uid was verified here: run the server as a non-root user"))
        }
        var plan = LaunchPlan(backend: backend, network: net, namespaces: kinds, userNamespace: namespaced && facts.userNamespace,
                          proc: backend == .namespaces ? .fresh : .container, perTenantUID: perTenantUID,
                          landlockABI: kernelLayers ? facts.landlockABI : nil, seccompFilter: facts.seccompFilter)
        plan.environGuarded = facts.environGuarded
        return plan
    }
}
