import NamespaceProbe
import IsolationSelector

enum MatrixRenderer {
    /// `probe --matrix`: one row per primitive; verdict as is, in a user namespace, the
    /// failing step with errno, and the cause.
    static func hostMatrix(_ r: Report, _ s: Selection, _ style: Style) -> String {
        let header = ["primitive", "as is", "in user namespace", "failing step (errno)", "cause"]
        let rows = Row.all(r).map { row -> [String] in
            let failing = row.asIs.verdict == .ok || row.asIs.verdict == .notRun ? row.inUser : row.asIs
            let shown = failing.flatMap { $0.verdict == .ok || $0.verdict == .notRun ? nil : $0 }
            return [row.label, Cell.text(row.asIs, style: style), Cell.text(row.inUser, style: style),
                    shown.map { "\($0.failedStep ?? $0.verdict.rawValue)\($0.errno.map { " (\($0.name))" } ?? "")" } ?? "",
                    shown?.cause ?? ""]
        }
        let env = r.environment
        var out = "Compatibility matrix: Linux \(env.kernelRelease), uid \(env.uid)"
        let seen = r.runtimes.filter { $0.confidence != .no }.map { "\($0.name) (\($0.confidence.rawValue))" }
        out += seen.isEmpty ? "\n\n" : ", " + seen.joined(separator: ", ") + "\n\n"
        out += markdownTable(header, rows) + "\n" + SelectionText.render(s, style: style)
        return out
    }

    static func environmentName(_ f: ReportFile) -> String {
        var name = String(f.path.split(separator: "/").last ?? Substring(f.path))
        if name.hasSuffix(".json") { name.removeLast(5) }
        return name
    }

    /// `probe matrix FILE...`: environments as columns, primitives as rows.
    static func mergedMarkdown(_ files: [ReportFile]) -> String {
        let names = files.map(environmentName)
        let rowsPer = files.map { Row.all($0.report) }
        var rows: [[String]] = []
        for (i, row) in rowsPer[0].enumerated() {
            rows.append([row.label] + rowsPer.map { Cell.text($0[i].asIs) })
            if row.inUser != nil {
                rows.append([row.label + " (in user ns)"] + rowsPer.map { Cell.text($0[i].inUser) })
            }
        }
        rows.append(["gVisor detected"] + files.map { $0.report.runtime("gvisor")?.confidence.rawValue ?? "no" })
        rows.append(["**selected backend**"] + files.map { "**\(Selector.select($0.report).chosen.name)**" })
        return markdownTable(["primitive"] + names, rows)
    }

    static func mergedJSON(_ files: [ReportFile]) -> JSON {
        .object([
            ("schema", .int(Int64(Report.schemaVersion))),
            ("environments", .array(files.map { f in
                let sel = Selector.select(f.report)
                return .object([
                    ("name", .string(environmentName(f))),
                    ("cells", .object(Row.all(f.report).flatMap { row -> [(String, JSON)] in
                        var cells: [(String, JSON)] = [(row.label, cellJSON(row.asIs))]
                        if let u = row.inUser { cells.append((row.label + " (in user ns)", cellJSON(u))) }
                        return cells
                    })),
                    ("gvisor", .string(f.report.runtime("gvisor")?.confidence.rawValue ?? "no")),
                    ("selected_backend", .string(sel.chosen.name)),
                ])
            })),
        ])
    }

    static func cellJSON(_ r: ProbeResult) -> JSON {
        .object([("verdict", .string(r.verdict.rawValue)), ("failed_step", .optional(r.failedStep)), ("errno", .optional(r.errno?.name))])
    }

    static func markdownTable(_ header: [String], _ rawRows: [[String]]) -> String {
        let rows = rawRows.map { $0.map { $0.split(separator: "|", omittingEmptySubsequences: false).joined(separator: "\\|") } }
        let widths = header.indices.map { c in ([header] + rows).map { Cell.width($0[c]) }.max()! }
        func line(_ cells: [String]) -> String {
            "| " + cells.enumerated().map { Cell.pad($1, widths[$0]) }.joined(separator: " | ") + " |\n"
        }
        return line(header) + "|" + widths.map { String(repeating: "-", count: $0 + 2) }.joined(separator: "|") + "|\n"
            + rows.map(line).joined()
    }
}
