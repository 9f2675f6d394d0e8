import Glibc
import NamespaceProbe

/// Thin checked wrappers the tenants share. Every failure is the errno of the named call.
enum Sys {
    /// Writes a whole string to an fd (retrying short writes and EINTR).
    @discardableResult
    static func writeAll(_ fd: Int32, _ text: String) -> Bool {
        let bytes = Array(text.utf8)
        var off = 0
        while off < bytes.count {
            let n = bytes[off...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n < 0 { if errno == EINTR { continue }; return false }
            off += n
        }
        return true
    }

    /// Creates `path` with `text`, mode `mode` (umask cleared by an explicit fchmod).
    static func createFile(_ path: String, _ text: String, mode: mode_t) -> Errno? {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        if fd < 0 { return .current }
        defer { close(fd) }
        if fchmod(fd, mode) != 0 { return .current }
        return writeAll(fd, text) ? nil : .current
    }

    static func mkdirs(_ path: String, mode: mode_t) -> Errno? {
        var sofar = ""
        for part in path.split(separator: "/") {
            sofar += "/" + part
            if mkdir(sofar, mode) != 0 && errno != EEXIST { return .current }
        }
        return nil
    }

    /// Up to `limit` bytes of an fd, as text (lossy).
    static func readUpTo(_ fd: Int32, _ limit: Int) -> Result<String, Errno> {
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while bytes.count < limit {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 { if errno == EINTR { continue }; return .failure(.current) }
            if n == 0 { break }
            bytes += chunk[0..<n]
        }
        return .success(String(decoding: bytes.map { $0 == 0 ? 32 : $0 }, as: UTF8.self))
    }

    /// Names in a directory (without . and ..).
    static func list(_ path: String) -> Result<[String], Errno> { ProcFiles.entries(path) }

    /// Numeric entries of /proc: the processes this /proc shows.
    static func pids() -> [Int32] {
        guard case .success(let names) = list("/proc") else { return [] }
        return names.compactMap { Int32($0) }
    }

    /// A sockaddr_un for a pathname (`/tmp/x.sock`) or an abstract name (leading NUL).
    static func unixAddress(_ name: String, abstract: Bool) -> (sockaddr_un, socklen_t) {
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let bytes = (abstract ? [0] : []) + Array(name.utf8)
        withUnsafeMutableBytes(of: &addr.sun_path) { p in
            for (i, b) in bytes.prefix(p.count - 1).enumerated() { p[i] = b }
        }
        let len = MemoryLayout<sa_family_t>.size + bytes.count + (abstract ? 0 : 1)
        return (addr, socklen_t(len))
    }

    static func inetLoopback(port: Int) -> sockaddr_in {
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        return addr
    }

    /// Connects (with a deadline) and reads what the peer sends before closing. EAGAIN (a
    /// full accept queue: seen on a busy host, and while A is stopped by B's ptrace attempt;
    /// never a permission answer) is retried for up to a second.
    static func connectAndRead(domain: Int32, _ address: UnsafeRawPointer, _ length: socklen_t, timeoutMillis: Int32 = 1000,
                               waitForData: Bool = true) -> Result<String, Errno> {
        var r = connectOnce(domain: domain, address, length, timeoutMillis: timeoutMillis, waitForData: waitForData)
        for _ in 0..<20 {
            guard case .failure(let e) = r, e.rawValue == EAGAIN else { break }
            usleep(50_000)
            r = connectOnce(domain: domain, address, length, timeoutMillis: timeoutMillis, waitForData: waitForData)
        }
        return r
    }

    static func connectOnce(domain: Int32, _ address: UnsafeRawPointer, _ length: socklen_t, timeoutMillis: Int32,
                            waitForData: Bool) -> Result<String, Errno> {
        let fd = socket(domain, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        if fd < 0 { return .failure(.current) }
        defer { close(fd) }
        if connect(fd, address.assumingMemoryBound(to: sockaddr.self), length) != 0 {
            guard errno == EINPROGRESS else { return .failure(.current) }
            var p = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
            guard poll(&p, 1, timeoutMillis) == 1 else { return .failure(.ETIMEDOUT) }
            var err: Int32 = 0
            var len = socklen_t(MemoryLayout<Int32>.size)
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len)
            if err != 0 { return .failure(Errno(rawValue: err)) }
        }
        guard waitForData else { return .success("") }
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&p, 1, timeoutMillis) == 1 else { return .failure(.ETIMEDOUT) }
        return readUpTo(fd, 4096)
    }

    /// Status fields of /proc/self/status (`NoNewPrivs`, `CapEff`, `Seccomp`).
    static func status(_ field: String, pid: String = "self") -> String? {
        guard case .success(let text) = ProcFiles.read("/proc/\(pid)/status") else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix(field + ":") {
            return String(line.dropFirst(field.count + 1).drop { $0 == " " || $0 == "\t" })
        }
        return nil
    }
}

extension Errno {
    static let ETIMEDOUT = Errno(rawValue: 110)
}
