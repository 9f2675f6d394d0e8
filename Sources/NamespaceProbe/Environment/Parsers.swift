/// Pure parsers for /proc and /sys text, kept apart so they are tested on fixture files.
public enum Parsers {
    /// `net:[4026531833]` -> 4026531833.
    public static func namespaceLinkInode(_ link: String) -> UInt64? {
        guard let open = link.firstIndex(of: "["), link.hasSuffix("]") else { return nil }
        return UInt64(link[link.index(after: open)..<link.index(before: link.endIndex)])
    }

    /// `Key:\tvalue` lines of /proc/self/status.
    public static func statusFields(_ text: String) -> [String: String] {
        var fields: [String: String] = [:]
        for line in text.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            fields[String(line[..<colon])] = line[line.index(after: colon)...].trimmingWhitespace()
        }
        return fields
    }

    /// A hexadecimal capability mask (`000001ffffffffff`).
    public static func capabilityMask(_ hex: String) -> UInt64? { UInt64(hex, radix: 16) }

    /// Mount points (field 5) of a mountinfo file.
    public static func mountPoints(_ text: Result<String, Errno>) -> [String] {
        guard case .success(let t) = text else { return [] }
        return t.split(separator: "\n").compactMap { line in
            let f = line.split(separator: " ")
            return f.count > 4 ? unescapeOctal(String(f[4])) : nil
        }
    }

    /// Mount ID (field 1) of the mount at `/`. The last one wins: mounts stack.
    public static func rootMountID(_ text: Result<String, Errno>) -> Int? {
        guard case .success(let t) = text else { return nil }
        var id: Int?
        for line in t.split(separator: "\n") {
            let f = line.split(separator: " ")
            if f.count > 4 && f[4] == "/" { id = Int(f[0]) }
        }
        return id
    }

    /// Interface names from /proc/net/dev (two header lines, then `name: counters`).
    public static func netDevInterfaces(_ text: String) -> [String] {
        text.split(separator: "\n").dropFirst(2).compactMap { line in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            return line[..<colon].trimmingWhitespace()
        }
    }

    /// Paths of /proc/self/cgroup lines `id:controllers:path`.
    public static func cgroupPaths(_ text: String) -> [String] {
        text.split(separator: "\n").compactMap { line in
            let f = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            return f.count == 3 ? String(f[2]) : nil
        }
    }

    /// cgroup v2 only when every line is the unified `0::/path` line.
    public static func cgroupVersion(_ text: String) -> String {
        let lines = text.split(separator: "\n")
        if lines.isEmpty { return "unknown" }
        if lines.allSatisfy({ $0.hasPrefix("0::") }) { return "v2" }
        return lines.contains(where: { $0.hasPrefix("0::") }) ? "hybrid" : "v1"
    }

    /// mountinfo escapes space, tab, newline and backslash as \ooo.
    static func unescapeOctal(_ s: String) -> String {
        guard s.contains("\\") else { return s }
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

extension StringProtocol {
    func trimmingWhitespace() -> String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" || f == "\n" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" || l == "\n" { s = s.dropLast() }
        return String(s)
    }
}
