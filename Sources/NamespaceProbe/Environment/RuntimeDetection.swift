import Glibc
import CNamespaceProbe

/// The raw observations runtime detection works from, gathered once so detection itself is
/// a pure function tested on fixtures.
public struct RuntimeInputs {
    public var unameRelease = ""
    public var unameVersion = ""
    public var procVersion = ""
    public var kernelLog = ""
    public var mountinfo = ""
    public var cgroup = ""
    public var cpuinfoHasHypervisorFlag = false
    public var dmiVendor = ""
    public var systemdContainer = ""
    public var environment: [String: String] = [:]
    public var existingPaths: Set<String> = []

    public init() {}

    public static let pathsOfInterest = [
        "/proc/gvisor", "/proc/sentry-meminfo", "/.dockerenv", "/run/.containerenv",
        "/var/run/secrets/kubernetes.io/serviceaccount", "/dev/lxd", "/proc/sys/fs/binfmt_misc/WSLInterop",
        "/sys/hypervisor/type",
    ]
    public static let variablesOfInterest = [
        "K_SERVICE", "K_REVISION", "K_CONFIGURATION", "CLOUD_RUN_JOB", "CLOUD_RUN_EXECUTION",
        "KUBERNETES_SERVICE_HOST", "container", "WSL_DISTRO_NAME",
    ]

    public static func read(facts: EnvironmentFacts, cgroup: String?) -> RuntimeInputs {
        var r = RuntimeInputs()
        r.unameRelease = facts.kernelRelease
        r.unameVersion = facts.kernelVersion
        r.procVersion = facts.procVersion ?? ""
        r.kernelLog = KernelLog.head()
        if case .success(let m) = ProcFiles.read("/proc/self/mountinfo") { r.mountinfo = m }
        r.cgroup = cgroup ?? ""
        if case .success(let c) = ProcFiles.read("/proc/cpuinfo", limit: 8192) {
            r.cpuinfoHasHypervisorFlag = Parsers.lines(c).contains { $0.hasPrefix("flags") && Parsers.has(String($0), " hypervisor") }
        }
        r.dmiVendor = ProcFiles.line("/sys/class/dmi/id/sys_vendor") ?? ""
        r.systemdContainer = ProcFiles.line("/run/systemd/container") ?? ""
        for name in variablesOfInterest {
            if let v = getenv(name) { r.environment[name] = String(cString: v) }
        }
        // PID 1's `container=` marks LXC, nspawn and podman even when our own env was cleared.
        if r.environment["container"] == nil, case .success(let env) = ProcFiles.read("/proc/1/environ", limit: 65536) {
            for entry in env.split(separator: "\0") where entry.hasPrefix("container=") {
                r.environment["container"] = String(entry.dropFirst("container=".count))
            }
        }
        for path in pathsOfInterest where access(path, F_OK) == 0 { r.existingPaths.insert(path) }
        return r
    }
}

public enum Confidence: String { case yes, likely, no }

/// One runtime and the evidence for it. Two independent markers make `yes`, one `likely`:
/// markers get removed and spoofed.
public struct RuntimeFinding: Equatable {
    public var name: String
    public var confidence: Confidence
    public var evidence: [String]
    public var detail: String?
    public init(name: String, confidence: Confidence, evidence: [String], detail: String? = nil) {
        self.name = name
        self.confidence = confidence
        self.evidence = evidence
        self.detail = detail
    }
}

public enum RuntimeDetection {
    /// gVisor's fixed `uname -v` (it reports Linux 4.4.0 whatever the host runs).
    public static let gvisorVersionString = "#1 SMP Sun Jan 10 15:06:54 PST 2016"

    public static func detect(_ r: RuntimeInputs) -> [RuntimeFinding] {
        let gvisor = finding("gvisor", [
            (r.unameRelease == "4.4.0" || r.unameRelease.hasSuffix("-gvisor")) && r.unameVersion == gvisorVersionString
                ? "uname: release \(r.unameRelease) with gVisor's fixed version string" : nil,
            r.procVersion.contains(gvisorVersionString) ? "/proc/version carries gVisor's fixed build date" : nil,
            Parsers.has(r.kernelLog, "Starting gVisor") ? "kernel log starts with \"Starting gVisor\"" : nil,
            r.existingPaths.contains("/proc/gvisor") ? "/proc/gvisor exists" : nil,
            r.existingPaths.contains("/proc/sentry-meminfo") ? "/proc/sentry-meminfo exists" : nil,
            Parsers.has(r.mountinfo, "dentry_cache_limit=") ? "mountinfo shows gVisor's dentry_cache_limit option" : nil,
        ])
        var findings = [gvisor]

        let service = ["K_SERVICE", "K_REVISION", "K_CONFIGURATION"].filter { r.environment[$0] != nil }
        let job = ["CLOUD_RUN_JOB", "CLOUD_RUN_EXECUTION"].filter { r.environment[$0] != nil }
        var cloudRun = finding("cloud-run", (service + job).map { "\($0) is set" })
        if cloudRun.confidence != .no {
            let kind = job.count > service.count ? "job" : "service"
            cloudRun.detail = gvisor.confidence == .no
                ? "\(kind), second generation (no gVisor seen)" : "\(kind), first generation (gVisor seen)"
        }
        findings.append(cloudRun)

        findings.append(finding("docker", [
            r.existingPaths.contains("/.dockerenv") ? "/.dockerenv exists" : nil,
            Parsers.has(r.cgroup, "docker") ? "/proc/self/cgroup names docker" : nil,
            Parsers.has(r.mountinfo, "/docker/containers/") ? "mountinfo binds from /var/lib/docker/containers" : nil,
        ]))
        findings.append(finding("podman", [
            r.existingPaths.contains("/run/.containerenv") ? "/run/.containerenv exists" : nil,
            r.environment["container"] == "podman" ? "container=podman" : nil,
            Parsers.has(r.cgroup, "libpod") ? "/proc/self/cgroup names libpod" : nil,
        ]))
        findings.append(finding("kubernetes", [
            r.environment["KUBERNETES_SERVICE_HOST"] != nil ? "KUBERNETES_SERVICE_HOST is set" : nil,
            r.existingPaths.contains("/var/run/secrets/kubernetes.io/serviceaccount") ? "service account secrets mounted" : nil,
            Parsers.has(r.cgroup, "kubepods") ? "/proc/self/cgroup names kubepods" : nil,
        ]))
        findings.append(finding("lxc", [
            r.environment["container"] == "lxc" ? "container=lxc" : nil,
            r.existingPaths.contains("/dev/lxd") ? "/dev/lxd exists" : nil,
            Parsers.has(r.cgroup, "/lxc") ? "/proc/self/cgroup names lxc" : nil,
        ]))
        findings.append(finding("systemd-nspawn", [
            r.environment["container"] == "systemd-nspawn" ? "container=systemd-nspawn" : nil,
            r.systemdContainer == "systemd-nspawn" ? "/run/systemd/container says systemd-nspawn" : nil,
        ]))
        findings.append(finding("wsl", [
            Parsers.has(r.procVersion.lowercased(), "microsoft") ? "/proc/version names Microsoft" : nil,
            r.environment["WSL_DISTRO_NAME"] != nil ? "WSL_DISTRO_NAME is set" : nil,
            r.existingPaths.contains("/proc/sys/fs/binfmt_misc/WSLInterop") ? "WSLInterop binfmt exists" : nil,
        ]))
        var hv = finding("hypervisor", [
            r.cpuinfoHasHypervisorFlag ? "cpuinfo has the hypervisor flag" : nil,
            r.existingPaths.contains("/sys/hypervisor/type") ? "/sys/hypervisor/type exists" : nil,
            hypervisorVendors.contains(where: { Parsers.has(r.dmiVendor, $0) }) ? "DMI vendor \(r.dmiVendor)" : nil,
        ])
        if !r.dmiVendor.isEmpty { hv.detail = r.dmiVendor }
        findings.append(hv)
        return findings
    }

    static let hypervisorVendors = ["QEMU", "KVM", "Amazon EC2", "Google", "Microsoft Corporation", "VMware", "Xen", "innotek", "Firecracker"]

    static func finding(_ name: String, _ markers: [String?]) -> RuntimeFinding {
        let evidence = markers.compactMap { $0 }
        let confidence: Confidence = evidence.count >= 2 ? .yes : evidence.count == 1 ? .likely : .no
        return RuntimeFinding(name: name, confidence: confidence, evidence: evidence)
    }
}

/// The first record of the kernel log (gVisor prints its banner there). Needs CAP_SYSLOG or
/// dmesg_restrict=0; empty otherwise.
enum KernelLog {
    static func head() -> String {
        // /dev/kmsg hands out one record per read, from the oldest. syslog(READ_ALL) formats
        // the whole ring buffer whatever the size asked: 1 ms on a busy host, for one line.
        let fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        if fd >= 0 {
            defer { close(fd) }
            var record = [UInt8](repeating: 0, count: 8192)  // a read shorter than a record fails
            let n = record.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            guard n > 0 else { return "" }
            // "priority,sequence,time,flags;message"
            let line = record[0..<n]
            let message = line.firstIndex(of: UInt8(ascii: ";")).map { line[($0 + 1)...] } ?? line
            return String(decoding: message, as: UTF8.self)
        }
        // gVisor has no /dev/kmsg, and its syslog(2) log is a few lines.
        var buf = [Int8](repeating: 0, count: 4096)
        let n = cnp_klog_read_all(&buf, Int32(buf.count))
        guard n > 0, Int(n) <= buf.count else { return "" }
        return String(decoding: buf[0..<Int(n)].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
