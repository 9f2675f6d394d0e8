import Glibc
import CNamespaceProbe

/// Brings lo up the way bubblewrap and `ip link set lo up` do (rtnetlink RTM_NEWLINK), then
/// proves it carries traffic: a UDP datagram to 127.0.0.1 comes back. gVisor answers the
/// SIOCSIFFLAGS ioctl with ENOTTY but implements netlink.
public enum Loopback {
    /// A new network namespace on Linux starts with lo down; gVisor's starts with it up.
    /// What matters to a tenant is that loopback carries traffic, so that is what is checked.
    public static func up(_ w: StepWriter) -> Bool {
        if case .ok(let detail) = udpEcho() {
            w.record("bring lo up (netlink RTM_NEWLINK)", .skipped("lo already carries traffic"))
            w.record("loopback carries a UDP datagram", .ok(detail))
            return true
        }
        return w.step("bring lo up (netlink RTM_NEWLINK)") { setUpViaNetlink() }
            && w.step("loopback carries a UDP datagram") { udpEcho() }
    }

    static func setUpViaNetlink() -> StepResult {
        let index = if_nametoindex("lo")
        guard index != 0 else { return .failed(.current, "if_nametoindex(lo)") }
        let sock = socket(AF_NETLINK, Int32(SOCK_RAW.rawValue) | Int32(SOCK_CLOEXEC.rawValue), cnp_NETLINK_ROUTE)
        guard sock >= 0 else { return .failed(.current, "socket(AF_NETLINK)") }
        defer { close(sock) }
        // nlmsghdr (16 bytes) + ifinfomsg (16 bytes), little-endian host order.
        var msg = [UInt8]()
        func put32(_ v: UInt32) { withUnsafeBytes(of: v) { msg.append(contentsOf: $0) } }
        func put16(_ v: UInt16) { withUnsafeBytes(of: v) { msg.append(contentsOf: $0) } }
        put32(32); put16(16 /* RTM_NEWLINK */); put16(UInt16(1 | 4) /* NLM_F_REQUEST|NLM_F_ACK */); put32(1); put32(0)
        msg.append(UInt8(AF_UNSPEC)); msg.append(0); put16(0)
        put32(index); put32(UInt32(IFF_UP)); put32(UInt32(IFF_UP))
        guard msg.withUnsafeBytes({ send(sock, $0.baseAddress, $0.count, 0) }) == msg.count else {
            return .failed(.current, "send RTM_NEWLINK")
        }
        var reply = [UInt8](repeating: 0, count: 512)
        let n = reply.withUnsafeMutableBytes { recv(sock, $0.baseAddress, $0.count, 0) }
        guard n >= 20 else { return .failed(n < 0 ? .current : nil, "no netlink acknowledgement") }
        let type = UInt16(reply[4]) | UInt16(reply[5]) << 8
        guard type == 2 /* NLMSG_ERROR */ else { return .failed(nil, "unexpected netlink reply type \(type)") }
        let code = reply.withUnsafeBytes { $0.load(fromByteOffset: 16, as: Int32.self) }
        return code == 0 ? .ok() : .failed(Errno(rawValue: -code), "RTM_NEWLINK refused")
    }

    static func udpEcho() -> StepResult {
        let sock = socket(AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard sock >= 0 else { return .failed(.current, "socket(AF_INET)") }
        defer { close(sock) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(sock, $0, len) } }
        guard bound == 0 else { return .failed(.current, "bind 127.0.0.1") }
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(sock, $0, &len) } }
        let payload: [UInt8] = Array("namespace-probe".utf8)
        let sent = withUnsafePointer(to: &addr) { a in
            a.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                payload.withUnsafeBytes { sendto(sock, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT), sa, len) }
            }
        }
        guard sent == payload.count else { return .failed(.current, "sendto 127.0.0.1") }
        var got = [UInt8](repeating: 0, count: 64)
        let n = got.withUnsafeMutableBytes { recv(sock, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
        guard n == payload.count, Array(got[0..<n]) == payload else { return .failed(n < 0 ? .current : nil, "datagram not received") }
        return .ok("127.0.0.1 echo")
    }
}
