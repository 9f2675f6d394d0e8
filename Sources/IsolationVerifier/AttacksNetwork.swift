import Glibc
import NamespaceProbe

/// Network: A's loopback TCP listener, abstract and pathname unix sockets.
extension Battery {
    func tcp() -> Observation {
        if let f = a.failure("tcp") { return Observation("A20", .notRun, "A could not plant it (\(f))") }
        var addr = Sys.inetLoopback(port: a.port)
        let r = withUnsafePointer(to: &addr) { Sys.connectAndRead(domain: AF_INET, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        return judged("A20", "connect 127.0.0.1:\(a.port)", r, c.tcp)
    }

    /// The server's listener is never accepted: an established connection is the evidence.
    func serverTCP() -> Observation {
        var addr = Sys.inetLoopback(port: b.serverPort)
        let r = withUnsafePointer(to: &addr) { Sys.connectAndRead(domain: AF_INET, $0, socklen_t(MemoryLayout<sockaddr_in>.size), waitForData: false) }
        switch r {
        case .failure(let e): return Observation("A20.server", .blocked, "connect 127.0.0.1:\(b.serverPort): \(e.name)")
        case .success: return Observation("A20.server", .leaked, "connected to the server's 127.0.0.1:\(b.serverPort)")
        }
    }

    func abstractSocket() -> Observation {
        if let f = a.failure("abstract") { return Observation("A22", .notRun, "A could not plant it (\(f))") }
        var (addr, len) = Sys.unixAddress(c.abstractName, abstract: true)
        let r = withUnsafePointer(to: &addr) { Sys.connectAndRead(domain: AF_UNIX, $0, len) }
        return judged("A22", "connect @\(c.abstractName)", r, c.abstract)
    }

    func pathnameSocket() -> Observation {
        if let f = a.failure("pathname") { return Observation("A23", .notRun, "A could not plant it (\(f))") }
        var (addr, len) = Sys.unixAddress(c.socketPath, abstract: false)
        let r = withUnsafePointer(to: &addr) { Sys.connectAndRead(domain: AF_UNIX, $0, len) }
        return judged("A23", "connect \(c.socketPath)", r, c.pathname)
    }

    func judged(_ id: String, _ what: String, _ r: Result<String, Errno>, _ token: String) -> Observation {
        switch r {
        case .failure(let e): return Observation(id, .blocked, "\(what): \(e.name)")
        case .success(let t):
            return t.contains(token) ? Observation(id, .leaked, "\(what): A answered '\(shown(token))'")
                : Observation(id, .leaked, "\(what): connected (to something other than A)")
        }
    }
}
