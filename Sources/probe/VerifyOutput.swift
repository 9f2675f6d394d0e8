import NamespaceProbe
import IsolationSelector
import IsolationVerifier

/// `probe verify` output: a table (one column per backend) and schema verify/1 JSON.
enum VerifyOutput {
    static let schema = "verify/1"

    /// Cell text: the observation, marked where it contradicts or goes beyond the promise.
    static func cell(_ r: AttackRow) -> String {
        switch (r.promise.kind, r.observation.outcome) {
        case (.blocks, .blocked): return "blocked"
        case (.blocks, .leaked): return "LEAKED (promised blocked)"
        case (.open, .leaked): return "leaks (open by design)"
        case (.open, .blocked): return "blocked (not promised)"
        case (_, .notRun): return "not run"
        }
    }

    /// One backend: a row per attack with promise and evidence. `--all`: a column per backend,
    /// then the evidence of every leak and attack not run.
    static func table(_ runs: [BackendRun], columns: Bool) -> String {
        var out = ""
        let ok = runs.filter { $0.error == nil }
        if !columns, let r = ok.first {
            out += "probe verify: \(r.backend.name), network \(r.network.rawValue)\(layers(r)), \(r.micros / 1000) ms\n\n"
            let rows = r.rows.map { [$0.attack.id, $0.attack.tries, "\($0.promise.kind.rawValue): \($0.promise.reason)", cell($0) + ": " + $0.observation.evidence] }
            out += MatrixRenderer.markdownTable(["id", "B tries to", "promise", "observed"], rows)
        } else if columns {
            out += "probe verify --all: \(runs.count) backends available here\n"
            for r in runs {
                out += "  " + Cell.pad(r.backend.name, 24) + (r.refused ? "refused by probe launch" : r.error != nil ? "could not run" : "network \(r.network.rawValue)\(layers(r)), \(r.micros / 1000) ms") + "\n"
            }
            if !ok.isEmpty {
                let rows = ok[0].rows.indices.map { i in [ok[0].rows[i].attack.id, ok[0].rows[i].attack.tries] + ok.map { cell($0.rows[i]) } }
                out += "\n" + MatrixRenderer.markdownTable(["id", "B tries to"] + ok.map(\.backend.name), rows)
                let notable = ok.flatMap { r in r.rows.filter { $0.observation.outcome != .blocked }.map { (r.backend, $0) } }
                if !notable.isEmpty {
                    out += "\nevidence (leaks and attacks not run):\n"
                    for (b, row) in notable { out += "  \(b.name) \(row.attack.id): \(row.observation.evidence)\n" }
                }
            }
        }
        for r in runs {
            if let e = r.error { out += "\n\(r.backend.name): \(r.refused ? "not verified, probe launch refuses it here" : "the self-test could not run"): \(e)\n" }
            else if r.failed.isEmpty { out += "\n\(r.backend.name): every promised protection held (\(r.rows.filter { $0.promise.blocks }.count) attacks promised blocked)\n" }
            else { out += "\n\(r.backend.name): PROMISE BROKEN: \(r.failed.map(\.attack.id).joined(separator: ", "))\n" }
        }
        return out
    }

    static func layers(_ r: BackendRun) -> String {
        guard let c = r.context else { return "" }
        var l: [String] = []
        if c.perTenantUid && r.backend != .uid { l.append("per-tenant uid") }
        if let abi = c.landlockABI { l.append("Landlock ABI \(abi)") }
        if c.seccomp { l.append("seccomp") }
        return l.isEmpty ? "" : ", layers: " + l.joined(separator: ", ")
    }

    static func json(_ runs: [BackendRun], report: Report, selected: Backend, exit: Int32) -> JSON {
        .object([
            ("schema", .string(schema)),
            ("tool_version", .string(Report.toolVersion)),
            ("kernel", .string(report.environment.kernelRelease)),
            ("uid", .int(Int64(report.environment.uid))),
            ("gvisor", .string(report.runtime("gvisor")?.confidence.rawValue ?? "no")),
            ("selected_backend", .string(selected.name)),
            ("exit_status", .int(Int64(exit))),
            ("runs", .array(runs.map { r in
                .object([
                    ("backend", .string(r.backend.name)),
                    ("network", .string(r.network.rawValue)),
                    ("outcome", .string(r.outcome)),
                    ("layers", r.context.map { c in .object([("per_tenant_uid", .bool(c.perTenantUid)), ("landlock_abi", .optional(c.landlockABI)),
                                                             ("seccomp", .bool(c.seccomp))]) } ?? .null),
                    ("failed_promises", .array(r.failed.map { .string($0.attack.id) })),
                    ("error", r.error.map { e in .object([("step", .string(e.step)), ("errno", .optional(e.errno)), ("cause", .string(e.cause))]) } ?? .null),
                    ("duration_micros", .int(r.micros)),
                    ("attacks", .array(r.rows.map { row in
                        .object([("id", .string(row.attack.id)), ("family", .string(row.attack.family.rawValue)),
                                 ("tries", .string(row.attack.tries)), ("promise", .string(row.promise.kind.rawValue)),
                                 ("reason", .string(row.promise.reason)), ("observed", .string(row.observation.outcome.rawValue)),
                                 ("evidence", .string(row.observation.evidence))])
                    })),
                ])
            })),
        ])
    }
}
