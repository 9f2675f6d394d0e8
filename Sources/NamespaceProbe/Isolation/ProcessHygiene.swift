import Glibc
import CNamespaceProbe

/// The launcher's duties that hold for every backend (catalogue A26-A29, A32-A33): a new
/// session, no inherited descriptors, no_new_privs, resource limits.
public enum ProcessHygiene {
    /// setsid(2): no controlling terminal, so no TIOCSTI into the server's terminal, and a
    /// process group of its own that signals can be forwarded to.
    public static func newSession(_ w: StepWriter) -> Bool {
        w.step("setsid") {
            let sid = setsid()
            return sid < 0 ? .failed(.current) : .ok("session \(sid)")
        }
    }

    public static func noNewPrivileges(_ w: StepWriter) -> Bool {
        w.step("prctl(PR_SET_NO_NEW_PRIVS)") { .check(cnp_prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) }
    }

    /// Marks every descriptor above 2 close-on-exec (close_range(2), Linux 5.11), so the
    /// command starts with 0, 1 and 2 only while the launcher's own pipe still reports a
    /// failed execve. Falls back to each open descriptor of /proc/self/fd.
    public static func closeInheritedDescriptors(_ w: StepWriter) -> Bool {
        w.step("mark descriptors above 2 close-on-exec") {
            if cnp_close_range(3, UInt32.max, cnp_CLOSE_RANGE_CLOEXEC) == 0 { return .ok("close_range") }
            let why = Errno.current
            guard case .success(let names) = ProcFiles.entries("/proc/self/fd") else {
                return .failed(.current, "close_range: \(why.name); opendir /proc/self/fd")
            }
            // The listing's own descriptor is closed by now: fcntl answers EBADF for it.
            let fds = names.compactMap { Int32($0) }.filter { $0 > 2 }
            for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
            return .ok("close_range \(why.name): \(fds.count) descriptors marked one by one")
        }
    }

    /// Resource limits, soft and hard alike (a tenant may lower them, never raise them).
    public struct Limits: Equatable {
        public var nproc: UInt64?
        public var nofile: UInt64?
        public var fsize: UInt64?
        public var addressSpace: UInt64?
        public init(nproc: UInt64? = nil, nofile: UInt64? = nil, fsize: UInt64? = nil, addressSpace: UInt64? = nil) {
            self.nproc = nproc
            self.nofile = nofile
            self.fsize = fsize
            self.addressSpace = addressSpace
        }
    }

    public static func setLimits(_ limits: Limits, _ w: StepWriter) -> Bool {
        w.step("setrlimit") {
            var applied: [String] = []
            let items: [(String, Int32, UInt64?)] = [("nproc", cnp_RLIMIT_NPROC, limits.nproc), ("nofile", cnp_RLIMIT_NOFILE, limits.nofile),
                                                     ("fsize", cnp_RLIMIT_FSIZE, limits.fsize), ("as", cnp_RLIMIT_AS, limits.addressSpace),
                                                     ("core", cnp_RLIMIT_CORE, 0)]
            for (name, resource, value) in items {
                guard let value else { continue }
                guard cnp_setrlimit(resource, value, value) == 0 else { return .failed(.current, "RLIMIT_\(name.uppercased()) \(value)") }
                applied.append("\(name)=\(value)")
            }
            return .ok(applied.joined(separator: " "))
        }
    }
}
