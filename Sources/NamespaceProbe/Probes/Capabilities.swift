import Glibc
import CNamespaceProbe

/// The five capability sets of this process, read with capget(2), /proc/self/status and prctl(2).
public struct CapabilitySets: Equatable {
    public var effective: UInt64
    public var permitted: UInt64
    public var inheritable: UInt64
    public var bounding: UInt64
    public var ambient: UInt64
    /// /proc/sys/kernel/cap_last_cap, or the highest bit this tool names when unreadable.
    public var lastCap: Int

    public init(effective: UInt64, permitted: UInt64, inheritable: UInt64, bounding: UInt64, ambient: UInt64, lastCap: Int) {
        self.effective = effective
        self.permitted = permitted
        self.inheritable = inheritable
        self.bounding = bounding
        self.ambient = ambient
        self.lastCap = lastCap
    }

    public static let names = [
        "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
        "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
        "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW",
        "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT",
        "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
        "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
        "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE",
        "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ",
        "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
    ]
    public static let sysAdmin = 21

    /// Names of the bits set in `mask`, up to `lastCap`; unknown bits as `cap_N`.
    public func names(_ mask: UInt64) -> [String] {
        (0...max(lastCap, 0)).filter { $0 < 64 && mask & (1 << UInt64($0)) != 0 }
            .map { $0 < Self.names.count ? Self.names[$0] : "cap_\($0)" }
    }

    public func hasEffective(_ bit: Int) -> Bool { effective & (1 << UInt64(bit)) != 0 }

    /// The calling process's effective, permitted and inheritable sets (capget(2)).
    static func capget() -> Result<(effective: UInt64, permitted: UInt64, inheritable: UInt64), Errno> {
        var eff: [UInt32] = [0, 0], prm: [UInt32] = [0, 0], inh: [UInt32] = [0, 0]
        guard cnp_capget(&eff, &prm, &inh) == 0 else { return .failure(.current) }
        func join(_ w: [UInt32]) -> UInt64 { UInt64(w[0]) | UInt64(w[1]) << 32 }
        return .success((join(eff), join(prm), join(inh)))
    }

    /// Reads this process's sets. `status` holds the fields of /proc/self/status: its CapBnd
    /// and CapAmb lines save one prctl(2) per bit, which costs about 30 us each under gVisor
    /// (whose status has neither line; there the bits are asked one by one).
    public static func read(status: [String: String]) -> CapabilitySets {
        let (effective, permitted, inheritable) = (try? capget().get()) ?? (0, 0, 0)
        let last = ProcFiles.line("/proc/sys/kernel/cap_last_cap").flatMap { Int($0) } ?? (names.count - 1)
        let bits = (0...min(max(last, 0), 63)).map { UInt64($0) }
        let bounding = status["CapBnd"].flatMap(Parsers.capabilityMask) ?? bits.reduce(0) {
            cnp_prctl(PR_CAPBSET_READ, UInt($1), 0, 0, 0) == 1 ? $0 | 1 << $1 : $0
        }
        // The kernel keeps every ambient capability permitted and inheritable: only those
        // bits can be set, and with none of them (the usual case) there is nothing to ask.
        let candidates = permitted & inheritable
        let ambient = status["CapAmb"].flatMap(Parsers.capabilityMask) ?? bits.filter { candidates & (1 << $0) != 0 }.reduce(0) {
            cnp_prctl(PR_CAP_AMBIENT, UInt(PR_CAP_AMBIENT_IS_SET), UInt($1), 0, 0) == 1 ? $0 | 1 << $1 : $0
        }
        return CapabilitySets(effective: effective, permitted: permitted, inheritable: inheritable,
                              bounding: bounding, ambient: ambient, lastCap: last)
    }
}
