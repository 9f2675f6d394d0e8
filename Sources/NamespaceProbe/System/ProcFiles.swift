import Glibc

/// Small readers for /proc and /sys. They use open/read/readlink only: gVisor answers
/// `stat` on some /proc paths with EINVAL while `readlink` and `open` work.
public enum ProcFiles {
    /// The whole file as text, or the errno of the step that failed.
    public static func read(_ path: String, limit: Int = 1 << 20) -> Result<String, Errno> {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 { return .failure(.current) }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while bytes.count < limit {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                return .failure(.current)
            }
            if n == 0 { break }
            bytes.append(contentsOf: chunk[0..<n])
        }
        return .success(String(decoding: bytes, as: UTF8.self))
    }

    /// The file's text without the trailing newline, or nil when it cannot be read.
    public static func line(_ path: String) -> String? {
        guard case .success(let text) = read(path) else { return nil }
        return Substring(text).trimmingWhitespace()
    }

    public static func readLink(_ path: String) -> Result<String, Errno> {
        var buffer = [Int8](repeating: 0, count: 512)
        let n = readlink(path, &buffer, buffer.count - 1)
        if n < 0 { return .failure(.current) }
        return .success(String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self))
    }

    /// Writes `text` to an existing file in one write(2), as /proc control files require.
    public static func write(_ path: String, _ text: String) -> Result<Void, Errno> {
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        if fd < 0 { return .failure(.current) }
        defer { close(fd) }
        let bytes = Array(text.utf8)
        let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        if n < 0 { return .failure(.current) }
        if n != bytes.count { return .failure(.EINVAL) }
        return .success(())
    }

    public static func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }

    /// Names in a directory, without . and .. (opendir/readdir).
    public static func entries(_ path: String) -> Result<[String], Errno> {
        guard let dir = opendir(path) else { return .failure(.current) }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name != "." && name != ".." { names.append(name) }
        }
        return .success(names)
    }

    /// Identity of a namespace: the inode in the `kind:[inode]` link text.
    public static func namespaceInode(_ link: String) -> Result<UInt64, Errno> {
        switch readLink("/proc/self/ns/\(link)") {
        case .failure(let e): return .failure(e)
        case .success(let text):
            guard let inode = Parsers.namespaceLinkInode(text) else { return .failure(.EINVAL) }
            return .success(inode)
        }
    }
}
