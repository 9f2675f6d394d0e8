import NamespaceProbe

/// The evidence behind one backend being unavailable: which requirement failed, at which
/// probe step, with which errno and cause.
public struct Shortfall: Equatable {
    public var requirement: String
    public var probe: String
    public var step: String?
    public var errno: String?
    public var cause: String?
}

public struct Candidate: Equatable {
    public var backend: Backend
    public var available: Bool
    public var excluded: Bool
    /// Empty when available.
    public var shortfalls: [Shortfall]
}

public struct Hardening: Equatable {
    public var name: String
    public var available: Bool
    public var evidence: String
}

/// The decision: the strongest available backend, every alternative with why not, what
/// layers on top, and the parameters a launcher needs.
public struct Selection: Equatable {
    public var chosen: Backend
    public var candidates: [Candidate]
    public var hardening: [Hardening]
    /// Ordered key/value pairs for the launcher (also the `--format env` lines).
    public var parameters: [(String, String)]
    public var advice: String?
    public var warning: String?
    /// The chosen backend with the layers the launcher adds to it: what the promises depend on.
    public var context: IsolationContext
    /// What the chosen backend leaves open here beyond `doesNotProtect`: namespace kinds the
    /// container refuses, each with the attacks it leaves open.
    public var leftOpen: [String] = []

    public static func == (a: Selection, b: Selection) -> Bool {
        a.chosen == b.chosen && a.candidates == b.candidates && a.hardening == b.hardening
            && a.parameters.map { "\($0)=\($1)" } == b.parameters.map { "\($0)=\($1)" }
            && a.advice == b.advice && a.warning == b.warning && a.context == b.context && a.leftOpen == b.leftOpen
    }

    /// Generated from the attack catalogue for this backend and its layers.
    public var protects: String { AttackCatalogue.protects(context) }
    public var doesNotProtect: String { AttackCatalogue.doesNotProtect(context) }
    /// (attack id, promise) for every attack of the catalogue, in catalogue order.
    public var promises: [(Attack, Promise)] { AttackCatalogue.attacks.map { ($0, $0.promise(context)) } }

    public var reason: String {
        if let mine = candidates.first(where: { $0.backend == chosen }), !mine.available {
            let why = mine.shortfalls.first.map { "\($0.requirement): \($0.cause ?? "")" } ?? "not available"
            return "no backend can launch a tenant here (\(why))"
        }
        if let stronger = candidates.first(where: { !$0.available && !$0.excluded && $0.backend > chosen }) {
            let why = stronger.shortfalls.first.map { s in
                "\(s.requirement): \(s.step.map { "'\($0)'" } ?? s.probe)\(s.errno.map { " \($0)" } ?? "")"
            } ?? "not available"
            return "\(chosen.name) is the strongest available backend; \(stronger.backend.name) is not available (\(why))"
        }
        return "\(chosen.name) is the strongest backend and every requirement was observed to work"
    }
}
