import Glibc

/// Pure parsers for /proc and /sys text, kept apart so they are tested on fixture files.
/// They split and search on bytes: Character handling (grapheme breaking) costs several
/// times more, and these files are ASCII.
public enum Parsers {
    /// Non-empty lines.
    static func lines(_ text: String) -> [Substring] { text.utf8.split(separator: 10).map { Substring($0) } }

    /// Fields split on one ASCII byte.
    static func fields(_ line: Substring, _ separator: UInt8, maxSplits: Int = .max, omittingEmpty: Bool = true) -> [Substring] {
        line.utf8.split(separator: separator, maxSplits: maxSplits, omittingEmptySubsequences: omittingEmpty).map { Substring($0) }
    }

    /// Whether `needle`'s bytes occur in `haystack`.
    static func has(_ haystack: String, _ needle: String) -> Bool {
        var h = haystack, n = needle
        return h.withUTF8 { hb in
            n.withUTF8 { nb in
                guard let first = nb.first else { return true }
                guard hb.count >= nb.count else { return false }
                for i in 0...(hb.count - nb.count) where hb[i] == first {
                    if memcmp(hb.baseAddress! + i, nb.baseAddress!, nb.count) == 0 { return true }
                }
                return false
            }
        }
    }

    /// `net:[4026531833]` -> 4026531833.
    public static func namespaceLinkInode(_ link: String) -> UInt64? {
        guard let open = link.firstIndex(of: "["), link.hasSuffix("]") else { return nil }
        return UInt64(link[link.index(after: open)..<link.index(before: link.endIndex)])
    }

    /// `Key:\tvalue` lines of /proc/self/status.
    public static func statusFields(_ text: String) -> [String: String] {
        var fields: [String: String] = [:]
        for line in lines(text) {
            let f = Parsers.fields(line, UInt8(ascii: ":"), maxSplits: 1, omittingEmpty: false)
            guard f.count == 2 else { continue }
            fields[String(f[0])] = f[1].trimmingWhitespace()
        }
        return fields
    }

    /// A hexadecimal capability mask (`000001ffffffffff`).
    public static func capabilityMask(_ hex: String) -> UInt64? { UInt64(hex, radix: 16) }

    /// Mount points (field 5) of a mountinfo file.
    public static func mountPoints(_ text: Result<String, Errno>) -> [String] {
        guard case .success(let t) = text else { return [] }
        return lines(t).compactMap { line in
            let f = fields(line, 32)
            return f.count > 4 ? unescapeOctal(String(f[4])) : nil
        }
    }

    /// Mount ID (field 1) of the mount at `/`. The last one wins: mounts stack.
    public static func rootMountID(_ text: Result<String, Errno>) -> Int? {
        guard case .success(let t) = text else { return nil }
        var id: Int?
        for line in lines(t) {
            let f = fields(line, 32)
            if f.count > 4 && f[4] == "/" { id = Int(f[0]) }
        }
        return id
    }

    /// Mount point (field 5, unescaped) of the mount with this ID, if listed.
    public static func mountPoint(id: Int, _ text: String) -> String? {
        for line in lines(text) {
            let f = fields(line, 32)
            if f.count > 4 && Int(f[0]) == id { return unescapeOctal(String(f[4])) }
        }
        return nil
    }

    /// Interface names from /proc/net/dev (two header lines, then `name: counters`).
    public static func netDevInterfaces(_ text: String) -> [String] {
        lines(text).dropFirst(2).compactMap { line in
            let f = fields(line, UInt8(ascii: ":"), maxSplits: 1, omittingEmpty: false)
            return f.count == 2 ? f[0].trimmingWhitespace() : nil
        }
    }

    /// Paths of /proc/self/cgroup lines `id:controllers:path`.
    public static func cgroupPaths(_ text: String) -> [String] {
        lines(text).compactMap { line in
            let f = fields(line, UInt8(ascii: ":"), maxSplits: 2, omittingEmpty: false)
            return f.count == 3 ? String(f[2]) : nil
        }
    }

    /// cgroup v2 only when every line is the unified `0::/path` line.
    public static func cgroupVersion(_ text: String) -> String {
        let all = lines(text)
        if all.isEmpty { return "unknown" }
        if all.allSatisfy({ $0.hasPrefix("0::") }) { return "v2" }
        return all.contains(where: { $0.hasPrefix("0::") }) ? "hybrid" : "v1"
    }

    /// mountinfo escapes space, tab, newline and backslash as \ooo.
    static func unescapeOctal(_ s: String) -> String {
        guard has(s, "\\") else { return s }
        var out: [UInt8] = []
        let b = Array(s.utf8)
        var i = 0
        while i < b.count {
            if b[i] == UInt8(ascii: "\\"), i + 3 < b.count,
               let v = UInt8(String(decoding: b[(i + 1)...(i + 3)], as: UTF8.self), radix: 8) {
                out.append(v)
                i += 4
            } else {
                out.append(b[i])
                i += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}

extension Substring {
    /// Without leading and trailing spaces, tabs and newlines (on bytes).
    func trimmingWhitespace() -> String {
        let u = utf8
        func isSpace(_ b: UInt8) -> Bool { b == 32 || b == 9 || b == 10 }
        var start = u.startIndex, end = u.endIndex
        while start < end, isSpace(u[start]) { start = u.index(after: start) }
        while end > start, isSpace(u[u.index(before: end)]) { end = u.index(before: end) }
        return String(Substring(u[start..<end]))
    }
}
