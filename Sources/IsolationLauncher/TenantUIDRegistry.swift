import Glibc
import CNamespaceProbe
import NamespaceProbe

/// One stable uid per tenant, recorded in `<root>/.tenant-uids` ("tenant uid" lines, append
/// only, under flock(2)). A tenant keeps its uid forever; a new tenant gets the next uid
/// after every uid ever recorded in the range, skipping uids and gids that /etc/passwd or
/// /etc/group already name, so no uid is ever reused or shared with an account. The file
/// name starts with a dot, which no tenant id can.
public struct TenantUIDRegistry {
    public static let fileName = ".tenant-uids"
    public let range: ClosedRange<UInt32>

    public init(range: ClosedRange<UInt32>) { self.range = range }

    /// The tenant's uid (equal to its gid), allocating one when it has none.
    public func uid(for tenant: TenantID, rootFD: Int32, rootPath: String) throws -> UInt32 {
        let path = rootPath + "/" + Self.fileName
        let fd = openat(rootFD, Self.fileName, O_RDWR | O_CREAT | O_CLOEXEC | cnp_O_NOFOLLOW, 0o600)
        guard fd >= 0 else {
            throw LaunchRefusal.isolation(step: "open \(path)", errno: Errno.current.name, cause: "the per-tenant uid registry must be writable by the launcher")
        }
        defer { close(fd) }
        guard cnp_flock_exclusive(fd) == 0 else {
            throw LaunchRefusal.isolation(step: "flock \(path)", errno: Errno.current.name, cause: "cannot lock the per-tenant uid registry")
        }
        var st = stat()
        guard fstat(fd, &st) == 0, st.st_uid == geteuid(), st.st_mode & 0o022 == 0 else {
            throw LaunchRefusal.isolation(step: "check \(path)", errno: nil, cause: "the registry must belong to the launcher's uid and not be writable by others")
        }
        let records = Self.parse(Self.readAll(fd))
        if let known = records.first(where: { $0.tenant == tenant.value }) {
            // A record is only as good as the file: never uid 0, never outside the range.
            guard known.uid != 0, range.contains(known.uid) else {
                throw LaunchRefusal.isolation(step: "check the recorded uid of \(tenant) in \(path)", errno: nil,
                                              cause: "the registry gives it uid \(known.uid), outside --uid-range \(range.lowerBound)-\(range.upperBound)")
            }
            return known.uid
        }
        // Uids some process already runs as are taken too: another workspace root's registry
        // (each root has its own) may have given them out, and its tenants are running.
        let taken = Set(records.map(\.uid)).union(Self.accountIDs("/etc/passwd")).union(Self.accountIDs("/etc/group"))
            .union(Self.runningUIDs())
        let floor = records.map(\.uid).filter { range.contains($0) }.max().map { $0 + 1 } ?? range.lowerBound
        guard floor <= range.upperBound, let uid = (floor...range.upperBound).first(where: { !taken.contains($0) }) else {
            throw LaunchRefusal.isolation(step: "allocate a tenant uid", errno: nil,
                                          cause: "every uid of the range \(range.lowerBound)-\(range.upperBound) was used; give a new --uid-range")
        }
        let line = Array("\(tenant.value) \(uid)\n".utf8)
        guard lseek(fd, 0, SEEK_END) >= 0, line.withUnsafeBytes({ write(fd, $0.baseAddress, $0.count) }) == line.count, fsync(fd) == 0 else {
            throw LaunchRefusal.isolation(step: "record the tenant uid in \(path)", errno: Errno.current.name, cause: "the registry could not be written")
        }
        return uid
    }

    /// The uid recorded for the tenant whose area `path` is in (`<root>/<tenant>[/sub]`),
    /// without allocating one.
    static func recorded(tenantOf path: String) -> uid_t? {
        var parts = path.split(separator: "/").map(String.init)
        if parts.last?.hasPrefix(".") == true { parts.removeLast() }
        guard let tenant = parts.popLast(), case .success(let text) = ProcFiles.read("/" + parts.joined(separator: "/") + "/" + fileName) else { return nil }
        return parse(text).first { $0.tenant == tenant }.map { uid_t($0.uid) }
    }

    public static func parse(_ text: String) -> [(tenant: String, uid: UInt32)] {
        text.split(separator: "\n").compactMap { line in
            let f = line.split(separator: " ")
            guard f.count == 2, let uid = UInt32(f[1]) else { return nil }
            return (String(f[0]), uid)
        }
    }

    /// Real uids of the processes running now (/proc/PID/status), read only when a new tenant
    /// gets a uid.
    static func runningUIDs() -> Set<UInt32> {
        guard case .success(let names) = ProcFiles.entries("/proc") else { return [] }
        var uids = Set<UInt32>()
        for name in names {
            guard Int(name) != nil, case .success(let text) = ProcFiles.read("/proc/\(name)/status", limit: 4096),
                  let line = Parsers.statusFields(text)["Uid"], let real = line.split(whereSeparator: { $0 == "\t" || $0 == " " }).first,
                  let uid = UInt32(real) else { continue }
            uids.insert(uid)
        }
        return uids
    }

    /// The third field of each line of a passwd(5) or group(5) file.
    static func accountIDs(_ path: String) -> Set<UInt32> {
        guard case .success(let text) = ProcFiles.read(path) else { return [] }
        return Set(text.split(separator: "\n").compactMap { line in
            let f = line.split(separator: ":", omittingEmptySubsequences: false)
            return f.count > 2 ? UInt32(f[2]) : nil
        })
    }

    static func readAll(_ fd: Int32) -> String {
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        var offset: off_t = 0
        while true {
            let n = chunk.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, offset) }
            if n <= 0 { break }
            bytes.append(contentsOf: chunk[0..<n])
            offset += off_t(n)
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
