import NamespaceProbe
import IsolationSelector

/// Kubernetes Node Feature Discovery local feature file (features.d). Bare names get NFD's
/// `feature.node.kubernetes.io/` prefix; names and values follow the label rules (at most 63
/// characters of [A-Za-z0-9._-], alphanumeric at both ends), and the file stays far below
/// NFD's 64 KiB limit.
enum NFDRenderer {
    static func render(_ r: Report, _ s: Selection) -> String {
        var lines = ["# namespace-probe \(r.toolVersion): isolation features of this node (report schema \(Report.schemaVersion))"]
        func add(_ name: String, _ value: String) { lines.append("namespace-probe.\(name)=\(labelValue(value))") }
        add("backend", s.chosen.name)
        add("strongest-available", s.candidates.first { $0.available }?.backend.name ?? Backend.directories.name)
        add("gvisor", r.runtime("gvisor")?.confidence == .yes ? "true" : "false")
        for ns in r.namespaces {
            add("ns-\(ns.kind.rawValue)", ns.results.usable != nil ? "true" : "false")
        }
        for c in s.candidates { add("backend-\(c.backend.name)", c.available ? "true" : "false") }
        return lines.joined(separator: "\n") + "\n"
    }

    static func labelValue(_ v: String) -> String {
        var out = String(v.map { $0.isLetter || $0.isNumber || "._-".contains($0) ? $0 : "-" }.prefix(63))
        while let c = out.last, !(c.isLetter || c.isNumber) { out.removeLast() }
        return out
    }
}

/// node_exporter textfile collector format: HELP and TYPE lines, gauges with labels, no
/// timestamps.
enum PrometheusRenderer {
    static func render(_ r: Report, _ s: Selection) -> String {
        var out = ""
        func family(_ name: String, _ help: String, _ samples: [(labels: [(String, String)], value: String)]) {
            out += "# HELP namespace_probe_\(name) \(help)\n# TYPE namespace_probe_\(name) gauge\n"
            for sample in samples {
                let labels = sample.labels.map { "\($0)=\"\(escape($1))\"" }.joined(separator: ",")
                out += "namespace_probe_\(name)\(labels.isEmpty ? "" : "{\(labels)}") \(sample.value)\n"
            }
        }
        family("info", "Version of the probe and kernel it measured (always 1).",
               [([("version", r.toolVersion), ("kernel", r.environment.kernelRelease)], "1")])
        family("primitive_ok", "1 when the primitive was observed working in this mode, 0 otherwise (see the verdict label).",
               Row.all(r).flatMap { row -> [([(String, String)], String)] in
                   [(NamespaceProbe.Mode.asIs.rawValue, row.asIs), (NamespaceProbe.Mode.inUserNamespace.rawValue, row.inUser)].compactMap { mode, result in
                       guard let result else { return nil }
                       return ([("primitive", row.label), ("mode", mode), ("verdict", result.verdict.rawValue)],
                               result.verdict == .ok ? "1" : "0")
                   }
               })
        family("backend_available", "1 when every requirement of the isolation backend was observed working.",
               s.candidates.map { ([("backend", $0.backend.name)], $0.available ? "1" : "0") })
        family("backend_selected", "1 for the backend selected for this host, 0 for the others.",
               s.candidates.map { ([("backend", $0.backend.name)], $0.backend == s.chosen ? "1" : "0") })
        family("gvisor", "1 when gVisor was detected with two or more markers.",
               [([], r.runtime("gvisor")?.confidence == .yes ? "1" : "0")])
        family("duration_seconds", "Wall time of the probe run.",
               [([], String(Double(r.durationMicros) / 1_000_000))])
        return out
    }

    static func escape(_ v: String) -> String {
        var out = ""
        for c in v {
            switch c {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.append(c)
            }
        }
        return out
    }
}
