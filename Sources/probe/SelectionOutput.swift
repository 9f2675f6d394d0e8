import NamespaceProbe
import IsolationSelector

enum SelectionJSON {
    static func json(_ s: Selection) -> JSON {
        .object([
            ("backend", .string(s.chosen.name)),
            ("reason", .string(s.reason)),
            ("protects", .string(s.protects)),
            ("does_not_protect", .string(s.doesNotProtect)),
            // The same promises `probe verify` checks, one per attack of the catalogue.
            ("promises", .array(s.promises.map { a, p in
                .object([("id", .string(a.id)), ("family", .string(a.family.rawValue)), ("tries", .string(a.tries)),
                         ("promise", .string(p.kind.rawValue)), ("reason", .string(p.reason))])
            })),
            ("warning", .optional(s.warning)),
            ("left_open", .array(s.leftOpen.map(JSON.string))),
            ("advice", .optional(s.advice)),
            ("parameters", .object(s.parameters.map { ($0, .string($1)) })),
            ("candidates", .array(s.candidates.map { c in
                .object([
                    ("backend", .string(c.backend.name)),
                    ("available", .bool(c.available)),
                    ("excluded", .bool(c.excluded)),
                    ("shortfalls", .array(c.shortfalls.map { f in
                        .object([("requirement", .string(f.requirement)), ("probe", .string(f.probe)),
                                 ("step", .optional(f.step)), ("errno", .optional(f.errno)), ("cause", .optional(f.cause))])
                    })),
                ])
            })),
            ("hardening", .array(s.hardening.map { h in
                .object([("name", .string(h.name)), ("available", .bool(h.available)), ("evidence", .string(h.evidence))])
            })),
        ])
    }

    static func reportWithSelection(_ r: Report, _ s: Selection) -> JSON {
        guard case .object(var pairs) = r.json() else { return r.json() }
        pairs.append(("selection", json(s)))
        return .object(pairs)
    }
}

/// `--format env`: KEY=VALUE lines. Values are limited to characters that need no quoting,
/// so the same file works when sourced by sh and as `docker --env-file`.
enum EnvRenderer {
    static func render(_ s: Selection) -> String {
        // The attack ids the backend blocks and leaves open (the catalogue, as `probe verify` checks it).
        let ids = { (blocks: Bool) in s.promises.filter { $0.1.blocks == blocks }.map { $0.0.id }.joined(separator: ",") }
        let lines = s.parameters + [("ISOLATION_PROTECTS", ids(true)), ("ISOLATION_DOES_NOT_PROTECT", ids(false))]
        return lines.map { "\($0)=\(safe($1))" }.joined(separator: "\n") + "\n"
    }
    static func safe(_ v: String) -> String {
        String(v.map { $0.isLetter || $0.isNumber || "_,.-/:".contains($0) ? $0 : "_" })
    }
}

extension Selection {
    /// Why the required backend (or anything between it and the chosen one) is not there.
    func requirementReason(_ required: Backend) -> String {
        guard let c = candidates.first(where: { $0.backend == required }) else { return reason }
        if c.excluded { return "\(required.name) was excluded with --exclude" }
        guard let f = c.shortfalls.first else { return reason }
        return "\(f.requirement) failed at \(f.step.map { "'\($0)'" } ?? f.probe)\(f.errno.map { " " + $0 } ?? ""): \(f.cause ?? "")"
    }
}
