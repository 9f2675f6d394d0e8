import Glibc
import NamespaceProbe

enum Console {
    static func error(_ message: String) {
        let bytes = Array((message + "\n").utf8)
        _ = bytes.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    }

    static func wantsColor(outputPath: String?) -> Bool {
        outputPath == nil && isatty(1) == 1 && getenv("NO_COLOR") == nil
    }

    /// Standard output, or `path` written atomically: a temporary file in the same directory,
    /// fsync, then rename, so a reader never sees half a report.
    static func emit(_ text: String, to path: String?) throws {
        let bytes = Array(text.utf8)
        guard let path else {
            var offset = 0
            while offset < bytes.count {
                let n = bytes[offset...].withUnsafeBytes { write(1, $0.baseAddress, $0.count) }
                if n < 0 { if errno == EINTR { continue }; throw ProbeError("writing standard output: \(Errno.current)") }
                offset += n
            }
            return
        }
        let slash = path.lastIndex(of: "/")
        let dir = slash.map { String(path[..<$0]) } ?? "."
        var template = Array(((dir.isEmpty ? "" : dir) + "/.probe-output.XXXXXX").utf8CString)
        let fd = mkstemp(&template)
        guard fd >= 0 else { throw ProbeError("cannot create a temporary file in \(dir): \(Errno.current)") }
        let tmp = String(cString: template)
        var ok = fchmod(fd, 0o644) == 0
        var offset = 0
        while ok && offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { ok = false } else { offset += n }
        }
        let e = Errno.current
        ok = ok && fsync(fd) == 0
        close(fd)
        guard ok, rename(tmp, path) == 0 else {
            let err = ok ? Errno.current : e
            unlink(tmp)
            throw ProbeError("cannot write \(path): \(err)")
        }
    }
}

/// A saved report (`probe --json` output), read for `--from` and `probe matrix`.
struct ReportFile {
    let path: String
    let report: Report
    let json: JSON

    static func load(_ path: String) throws -> ReportFile {
        let text: String
        switch ProcFiles.read(path, limit: 16 << 20) {
        case .success(let t): text = t
        case .failure(let e): throw ProbeError("cannot read \(path): \(e)")
        }
        do {
            let json = try JSON.parse(text)
            return ReportFile(path: path, report: try Report(json: json), json: json)
        } catch {
            throw ProbeError("\(path): \(error)")
        }
    }
}

/// ANSI colour for verdict words, only when enabled.
struct Style {
    let enabled: Bool
    func verdict(_ v: Verdict) -> String {
        let color: String
        switch v {
        case .ok: color = "32"
        case .failed, .killed: color = "31"
        case .unverifiable, .timeout: color = "33"
        case .notRun: color = "2"
        }
        return paint(v.rawValue, color)
    }
    func bold(_ s: String) -> String { paint(s, "1") }
    func paint(_ s: String, _ code: String) -> String { enabled ? "\u{1B}[\(code)m\(s)\u{1B}[0m" : s }
}
