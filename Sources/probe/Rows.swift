import NamespaceProbe

/// The primitives every table shows, in one order: namespaces, then the sandbox chain and
/// the other primitives. A row has the result as is and, where it applies, in a user namespace.
struct Row {
    let label: String
    let asIs: ProbeResult
    let inUser: ProbeResult?

    static func all(_ r: Report) -> [Row] {
        var rows = r.namespaces.map { Row(label: "\($0.kind.rawValue) namespace", asIs: $0.asIs,
                                          inUser: $0.kind == .user ? nil : $0.inUserNamespace) }
        rows += [
            Row(label: "sandbox chain", asIs: r.sandboxChain.asIs, inUser: r.sandboxChain.inUserNamespace),
            Row(label: "seccomp filter", asIs: r.seccompOwnFilter, inUser: nil),
            Row(label: "seccomp listener", asIs: r.seccompListener, inUser: nil),
            Row(label: "landlock", asIs: r.landlockEnforcement, inUser: nil),
            Row(label: "ptrace", asIs: r.ptrace, inUser: nil),
            Row(label: "uid switch", asIs: r.identitySwitch, inUser: nil),
            Row(label: "unshare rejects bad flags", asIs: r.unshareRejectsInvalidFlags, inUser: nil),
        ]
        return rows
    }
}

enum Cell {
    /// `ok`, `failed EPERM`, `killed SIGSYS`, `unverifiable`, `-` (not run).
    static func text(_ r: ProbeResult?, style: Style = Style(enabled: false)) -> String {
        guard let r, r.verdict != .notRun else { return "-" }
        var s = style.verdict(r.verdict)
        if let e = r.errno { s += " " + e.name }
        else if let sig = r.signal { s += " " + SignalName.name(sig) }
        return s
    }
    static func width(_ s: String) -> Int {
        // Escape sequences take no columns.
        var n = 0, inEscape = false
        for c in s.unicodeScalars {
            if c == "\u{1B}" { inEscape = true; continue }
            if inEscape { if c == "m" { inEscape = false }; continue }
            n += 1
        }
        return n
    }
    static func pad(_ s: String, _ w: Int) -> String { s + String(repeating: " ", count: max(0, w - width(s))) }
}
