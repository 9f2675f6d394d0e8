import NamespaceProbe
import IsolationSelector

/// What the probe verified here, as the launcher needs it: parsed from the `ISOLATION_*`
/// values of `probe --format env` (the container entrypoint exports them) or taken from a
/// selection made now. Data flows one way: report -> selection -> these facts -> plan.
public struct VerifiedFacts: Equatable {
    public var chosen: Backend
    public var available: Set<Backend>
    public var userNamespace: Bool
    /// The kinds the sandbox chain unshared (ISOLATION_NAMESPACES); all five where unset.
    public var namespaces: [NamespaceKind]
    public var landlockABI: Int?
    public var uidSwitch: Bool
    public var seccompFilter: Bool
    /// Where the facts came from, for messages and the status.
    public var source: String

    public init(chosen: Backend, available: Set<Backend>, userNamespace: Bool, namespaces: [NamespaceKind] = SandboxChainProbe.namespaces,
                landlockABI: Int?, uidSwitch: Bool, seccompFilter: Bool, source: String) {
        self.chosen = chosen
        self.available = available
        self.userNamespace = userNamespace
        self.namespaces = namespaces
        self.landlockABI = landlockABI
        self.uidSwitch = uidSwitch
        self.seccompFilter = seccompFilter
        self.source = source
    }

    /// From `ISOLATION_*` key/value pairs. Throws a usage refusal naming the bad key.
    public static func parse(_ values: [String: String], source: String) throws -> VerifiedFacts {
        guard let name = values["ISOLATION_BACKEND"] else { throw LaunchRefusal.usage("\(source) has no ISOLATION_BACKEND") }
        let chosen: Backend
        do { chosen = try Backend.parse(name) } catch { throw LaunchRefusal.usage("\(source): ISOLATION_BACKEND: \(error)") }
        var available: Set<Backend> = [.directories]
        if let list = values["ISOLATION_AVAILABLE"] {
            for item in list.split(separator: ",") {
                do { available.insert(try Backend.parse(String(item))) } catch { throw LaunchRefusal.usage("\(source): ISOLATION_AVAILABLE: \(error)") }
            }
        } else {
            // Written before `probe launch` existed: only the chosen backend is known to work.
            available.insert(chosen)
        }
        available.insert(chosen)
        var kinds = SandboxChainProbe.namespaces
        if let list = values["ISOLATION_NAMESPACES"] {
            kinds = try list.split(separator: ",").map { name in
                guard let k = NamespaceKind(rawValue: String(name)) else { throw LaunchRefusal.usage("\(source): ISOLATION_NAMESPACES: unknown kind '\(name)'") }
                return k
            }
        }
        return VerifiedFacts(chosen: chosen, available: available, userNamespace: values["ISOLATION_USER_NAMESPACE"] == "1", namespaces: kinds,
                             landlockABI: values["ISOLATION_LANDLOCK_ABI"].flatMap { Int($0) }.flatMap { $0 > 0 ? $0 : nil },
                             uidSwitch: values["ISOLATION_UID_SWITCH"] == "1",
                             seccompFilter: values["ISOLATION_HARDENING_SECCOMP_FILTER"] == "1", source: source)
    }

    public static func from(_ selection: Selection, source: String) throws -> VerifiedFacts {
        var values: [String: String] = [:]
        for (k, v) in selection.parameters { values[k] = v }
        return try parse(values, source: source)
    }
}
