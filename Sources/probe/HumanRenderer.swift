import NamespaceProbe
import IsolationSelector

/// `probe` with no format: one screen saying what works, what failed and why, and the choice.
struct HumanRenderer {
    let report: Report
    let selection: Selection
    let style: Style

    func render() -> String {
        let e = report.environment
        var out = style.bold("namespace-probe \(report.toolVersion)") + "\n"
        out += "kernel:   Linux \(e.kernelRelease) \(e.machine)\n"
        out += "process:  uid \(e.uid) gid \(e.gid)\(e.isPID1 ? ", PID 1" : ""), cgroup \(e.cgroupVersion)"
        out += ", seccomp mode \(e.seccompMode.map(String.init) ?? "?") (\(e.seccompFilters.map(String.init) ?? "?") filters)"
        out += ", no_new_privs \(e.noNewPrivs.map { $0 ? "on" : "off" } ?? "?")\n"
        if e.root.chrooted == true { out += "root:     chrooted (\(e.root.evidence))\n" }
        let caps = report.capabilities
        out += "caps:     \(caps.names(caps.effective).count) effective, CAP_SYS_ADMIN \(caps.hasEffective(CapabilitySets.sysAdmin) ? "held" : "missing")\n"
        let runtimes = report.runtimes.filter { $0.confidence != .no }
        out += "runtime:  " + (runtimes.isEmpty ? "no container runtime or hypervisor marker found"
            : runtimes.map { "\($0.name) (\($0.confidence.rawValue)\($0.detail.map { ", " + $0 } ?? ""))" }.joined(separator: ", ")) + "\n\n"

        let rows = Row.all(report)
        let w0 = rows.map { $0.label.count }.max()! + 2
        let cells = rows.map { (Cell.text($0.asIs, style: style), Cell.text($0.inUser, style: style)) }
        let w1 = max(cells.map { Cell.width($0.0) }.max()!, 5) + 2
        out += Cell.pad("", w0) + Cell.pad("as is", w1) + "in a user namespace\n"
        for (row, c) in zip(rows, cells) {
            out += Cell.pad(row.label, w0) + Cell.pad(c.0, w1) + c.1 + "\n"
        }

        // One line per distinct reason, naming every primitive it applies to.
        var reasons: [(reason: String, labels: [String])] = []
        for row in rows {
            for (label, r) in [(row.label, row.asIs), (row.label + " (user ns)", row.inUser)] {
                guard let r, r.verdict != .ok, r.verdict != .notRun else { continue }
                // The cause names the errno; the failing step is in --matrix.
                let reason = r.cause ?? r.detail ?? r.verdict.rawValue
                if let i = reasons.firstIndex(where: { $0.reason == reason }) { reasons[i].labels.append(label) }
                else { reasons.append((reason, [label])) }
            }
        }
        if !reasons.isEmpty {
            out += "\nwhy:\n" + reasons.map { "  \($0.labels.joined(separator: ", ")): \($0.reason)" }.joined(separator: "\n") + "\n"
        }
        out += "\n" + SelectionText.render(selection, style: style)
        return out
    }
}

/// The selection block shared by the human summary and the matrix.
enum SelectionText {
    static func render(_ s: Selection, style: Style) -> String {
        var out = style.bold("selected: \(s.chosen.name)") + "\n"
        out += "  why:          \(s.reason)\n"
        out += "  protects:     \(s.protects)\n"
        out += "  does not:     \(s.doesNotProtect)\n"
        for line in s.leftOpen { out += "  also open:    \(line)\n" }
        if let w = s.warning { out += style.paint("  WARNING:      directories only: \(w)", "33") + "\n" }
        out += "  alternatives:\n"
        for c in s.candidates where c.backend != s.chosen {
            let state = c.excluded ? "excluded (--exclude)" : c.available ? "available" : "unavailable"
            out += "    \(Cell.pad(c.backend.name, 24))\(state)\n"
            if !c.available {
                for f in c.shortfalls {
                    out += "      needs \(f.requirement): \(f.step.map { "'\($0)'" } ?? f.probe)\(f.errno.map { " " + $0 } ?? "")"
                    out += f.cause.map { " - " + $0 } ?? ""
                    out += "\n"
                }
            }
        }
        out += "  hardening:    " + s.hardening.map { "\($0.name) \($0.available ? "yes" : "no")" }.joined(separator: ", ") + "\n"
        if let a = s.advice { out += "  advice:       \(a)\n" }
        return out
    }
}
