import NamespaceProbe

/// What one attack did: blocked, LEAKED, or not run (with why), and the evidence.
public struct Observation: Equatable {
    public enum Outcome: String { case blocked, leaked = "LEAKED", notRun = "not run" }
    public var id: String
    public var outcome: Outcome
    /// The errno, the canary read, or the mechanism observed (`NoNewPrivs 1`).
    public var evidence: String

    public init(_ id: String, _ outcome: Outcome, _ evidence: String) {
        (self.id, self.outcome, self.evidence) = (id, outcome, evidence)
    }

    public var json: JSON { .object([("id", .string(id)), ("observed", .string(outcome.rawValue)), ("evidence", .string(evidence))]) }

    public init(json: JSON) throws {
        guard let id = json["id"]?.string, let o = json["observed"]?.string.flatMap(Outcome.init), let e = json["evidence"]?.string else {
            throw ProbeError("tenant B's result is malformed: \(json.serialized(pretty: false))")
        }
        self.init(id, o, e)
    }
}

/// Shows a canary in evidence without printing it whole: enough to recognise it in a log.
func shown(_ token: String) -> String { token.count > 20 ? String(token.prefix(20)) + "…" : token }
