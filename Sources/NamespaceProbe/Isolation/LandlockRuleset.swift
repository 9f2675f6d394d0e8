import Glibc
import CNamespaceProbe

/// The Landlock ruleset a tenant runs under, built for the ABI this kernel has. Shared by the
/// Landlock probe (which applies the launcher's default rules and checks what they deny) and
/// the launcher. Rights and ABIs: landlock(7) and linux/landlock.h (ABI 1 Linux 5.13, 2 5.19
/// REFER, 3 6.2 TRUNCATE, 4 6.7 TCP bind/connect, 5 6.10 IOCTL_DEV, 6 6.12 scopes).
public struct LandlockRules: Equatable {
    /// Directories the tenant may read and execute from (system directories).
    public var readExecute: [String]
    /// Directories read without execute (/proc).
    public var readOnly: [String]
    /// Directories the tenant owns: every file-system right beneath them.
    public var readWrite: [String]
    /// Single files read and written (/dev/null and friends).
    public var deviceFiles: [String]
    /// With ABI >= 4: TCP bind is denied and connect allowed only to these ports.
    public var tcpConnectPorts: [UInt16]
    /// False in a network namespace of the tenant's own: nobody else is on its loopback, so
    /// its own test servers may bind and connect there.
    public var restrictTCP = true

    public init(readExecute: [String], readOnly: [String], readWrite: [String], deviceFiles: [String], tcpConnectPorts: [UInt16]) {
        self.readExecute = readExecute
        self.readOnly = readOnly
        self.readWrite = readWrite
        self.deviceFiles = deviceFiles
        self.tcpConnectPorts = tcpConnectPorts
    }

    /// The launcher's rules for a tenant area, outside any mount namespace.
    public static func tenant(area: [String], extraReadOnly: [String] = [], tcpConnectPorts: [UInt16] = [443]) -> LandlockRules {
        LandlockRules(readExecute: RootPlan.systemPaths() + extraReadOnly, readOnly: ["/proc"],
                      readWrite: area, deviceFiles: RootPlan.defaultDevices.map { "/dev/" + $0 }, tcpConnectPorts: tcpConnectPorts)
    }
}

public enum LandlockRuleset {
    static let execute: UInt64 = 1 << 0, writeFile: UInt64 = 1 << 1, readFile: UInt64 = 1 << 2, readDir: UInt64 = 1 << 3
    static let refer: UInt64 = 1 << 13, truncate: UInt64 = 1 << 14, ioctlDev: UInt64 = 1 << 15
    static let bindTCP: UInt64 = 1 << 0, connectTCP: UInt64 = 1 << 1
    static let scopeAbstractUnix: UInt64 = 1 << 0, scopeSignal: UInt64 = 1 << 1

    /// The ABI version, or ENOSYS (not built, or gVisor) / EOPNOTSUPP (disabled at boot).
    public static func abi() -> Result<Int, Errno> {
        let v = cnp_landlock_abi_version()
        return v < 0 ? .failure(.current) : .success(Int(v))
    }

    /// Every file-system right this ABI knows (ABI 1 has the first 13 bits).
    static func handledFS(_ abi: Int) -> UInt64 {
        var rights: UInt64 = (1 << 13) - 1
        if abi >= 2 { rights |= refer }
        if abi >= 3 { rights |= truncate }
        if abi >= 5 { rights |= ioctlDev }
        return rights
    }

    /// What the tenant's ruleset leaves to other layers on this ABI (attack ids of
    /// ISOLATION-NOTES' catalogue in the wording of the status output).
    public static func leftOpen(abi: Int) -> [String] {
        var open: [String] = []
        if abi < 4 { open.append("TCP connect and bind (Landlock ABI \(abi) < 4): other tenants' loopback services") }
        if abi < 6 { open.append("signals to processes of the same uid and abstract unix sockets (Landlock ABI \(abi) < 6)") }
        open.append("pathname unix sockets reached by connect(2) are not file accesses Landlock checks on this code's ABIs")
        open.append("/proc is readable: other processes' command lines (environ and memory need ptrace access, which Landlock denies)")
        return open
    }

    /// Creates the ruleset, adds every rule, and restricts this process. no_new_privs must be
    /// set first (landlock_restrict_self: EPERM otherwise, without CAP_SYS_ADMIN). Paths that
    /// do not exist here are skipped (a system directory absent in a slim image).
    public static func apply(_ rules: LandlockRules, abi: Int, _ w: StepWriter) -> Bool {
        let fs = handledFS(abi)
        let net: UInt64 = abi >= 4 && rules.restrictTCP ? bindTCP | connectTCP : 0
        let scoped: UInt64 = abi >= 6 ? scopeAbstractUnix | scopeSignal : 0
        var ruleset: Int32 = -1
        defer { if ruleset >= 0 { close(ruleset) } }
        let fileRights = readFile | writeFile | (abi >= 3 ? truncate : 0) | (abi >= 5 ? ioctlDev : 0)
        let groups: [(String, [String], UInt64)] = [
            ("read and execute", rules.readExecute, execute | readFile | readDir),
            ("read", rules.readOnly, readFile | readDir),
            ("read and write", rules.readWrite, fs),
            ("device files", rules.deviceFiles, fileRights),
        ]
        return w.step("landlock_create_ruleset") {
            ruleset = cnp_landlock_create_ruleset_full(fs, net, scoped)
            return .check(ruleset, "ABI \(abi), fs 0x\(String(fs, radix: 16)), net 0x\(String(net, radix: 16)), scoped 0x\(String(scoped, radix: 16))")
        }
        && groups.allSatisfy { group in
            w.step("add rules: \(group.0)") {
                var added: [String] = []
                for path in group.1 {
                    let fd = open(path, cnp_O_PATH | O_CLOEXEC)
                    if fd < 0 {
                        if errno == ENOENT { continue }
                        return .failed(.current, "open \(path)")
                    }
                    defer { close(fd) }
                    // A rule on a file takes file rights only (EINVAL otherwise).
                    var st = stat()
                    let isDirectory = fstat(fd, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
                    let rights = isDirectory ? group.2 : group.2 & (execute | fileRights)
                    guard cnp_landlock_add_path_rule(ruleset, fd, rights) == 0 else { return .failed(.current, path) }
                    added.append(path)
                }
                return .ok(added.joined(separator: " "))
            }
        }
        && (net == 0 || w.step("add rules: TCP connect ports") {
            for port in rules.tcpConnectPorts where cnp_landlock_add_port_rule(ruleset, connectTCP, UInt64(port)) != 0 {
                return .failed(.current, "port \(port)")
            }
            return .ok(rules.tcpConnectPorts.map(String.init).joined(separator: " "))
        })
        && w.step("landlock_restrict_self") { .check(cnp_landlock_restrict_self(ruleset)) }
    }
}
