import Glibc

public struct ProbeOptions {
    /// Bound on the whole run; children still running then are killed (verdict `timeout`).
    public var timeoutMillis: Int = 5000
    public init(timeoutMillis: Int = 5000) { self.timeoutMillis = timeoutMillis }
}

public struct ProbeError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Runs every probe and assembles the report. Must be called before anything starts a
/// thread: user namespaces cannot be entered from a multi-threaded process.
public enum Prober {
    public static func run(_ options: ProbeOptions = ProbeOptions()) throws -> Report {
        let start = Clock.nowMicros()
        let scratch = try Scratch.create()
        defer { scratch.remove() }
        var ctx = ProbeContext(uid: getuid(), gid: getgid(), probePid: getpid(), scratch: scratch.path)
        ctx.witness = OutsideWitness.open()
        defer { ctx.witness.close() }

        let jobs = [NamespaceProbe.job(ctx), ProcessControls.job(ctx)]

        // Everything the parent reads itself only reads files: it runs while the children work.
        var environment: EnvironmentFacts!, capabilities: CapabilitySets!
        var runtimeInputs = RuntimeInputs()
        var landlockABI: Result<Int, Errno> = .failure(.ENOSYS)
        let raw = ChildRunner.run(jobs, timeoutMillis: options.timeoutMillis, answer: OutsideView.answer) {
            let status = ProcFiles.line("/proc/self/status").map(Parsers.statusFields) ?? [:]
            let cgroup = ProcFiles.line("/proc/self/cgroup")
            environment = EnvironmentFacts.read(status: status, cgroup: cgroup)
            capabilities = CapabilitySets.read(status: status)
            runtimeInputs = RuntimeInputs.read(facts: environment, cgroup: cgroup)
            landlockABI = LandlockProbe.abiVersion()
        }
        let runtimes = RuntimeDetection.detect(runtimeInputs)

        func result(_ section: String) -> ProbeResult {
            raw[section].map { ProbeResult(raw: $0) } ?? ProbeResult(verdict: .failed, detail: "probe \(section) did not run")
        }
        let userProbe = result(NamespaceProbe.section(.user, .asIs))
        let unshareBlocked = userProbe.failedStep == "unshare(0)"
        let unshareAllowed = NamespaceKind.allCases.filter { kind in
            result(NamespaceProbe.section(kind, .asIs)).steps.contains { $0.name == "unshare(\(kind.flagName))" && $0.outcome == .ok }
        }.map(\.flagName)
        let explain = Explain(environment: environment, capabilities: capabilities, unshareSyscallBlocked: unshareBlocked,
                              gvisor: runtimes.first { $0.name == "gvisor" }?.confidence != Confidence.no, unshareAllowed: unshareAllowed)
        func explained(_ section: String, as probe: String? = nil) -> ProbeResult {
            var r = result(section)
            r.cause = explain.cause(probe: probe ?? section, result: r)
            return r
        }

        let namespaces = NamespaceKind.allCases.map { kind -> NamespaceResult in
            let asIs = explained(NamespaceProbe.section(kind, .asIs), as: "ns.\(kind.rawValue)")
            let inUser = kind == .user ? .notRun("the user namespace is the one probed as is")
                : explained(NamespaceProbe.section(kind, .inUserNamespace), as: "ns.\(kind.rawValue)")
            return NamespaceResult(kind: kind, results: ModeResults(asIs: asIs, inUserNamespace: inUser))
        }
        var abi: Int?, abiErrno: Errno?
        switch landlockABI {
        case .success(let v): abi = v
        case .failure(let e): abiErrno = e
        }
        return Report(
            environment: environment, runtimes: runtimes, namespaces: namespaces,
            unshareRejectsInvalidFlags: explained(ProcessControls.flagCheck),
            sandboxChain: ModeResults(asIs: explained(SandboxChainProbe.section(.asIs), as: SandboxChainProbe.probeName),
                                      inUserNamespace: explained(SandboxChainProbe.section(.inUserNamespace), as: SandboxChainProbe.probeName)),
            capabilities: capabilities, seccompOwnFilter: explained(ProcessControls.seccompFilter),
            seccompListener: explained(ProcessControls.seccompListener), landlockABI: abi, landlockABIErrno: abiErrno,
            landlockEnforcement: explained(ProcessControls.landlock), ptrace: explained(ProcessControls.ptrace),
            identitySwitch: explained(ProcessControls.identity), timeoutMillis: options.timeoutMillis,
            durationMicros: Clock.nowMicros() - start)
    }
}

/// The probe's scratch directory: 0700, owned by the probe's uid, removed after the run.
struct Scratch {
    let path: String

    static func create() throws -> Scratch {
        var tried: [String] = []
        var bases: [String] = []
        if let t = getenv("TMPDIR") { bases.append(String(cString: t)) }
        // tmpfs first: mkdir and rmdir on a journaled /tmp cost 0.4 ms of the run's end.
        bases += ["/dev/shm", "/tmp", "/var/tmp"]
        for base in bases {
            var template = Array((base + "/namespace-probe.XXXXXX").utf8CString)
            if let p = mkdtemp(&template) {
                let path = String(cString: p)
                guard mkdir(path + "/mnt", 0o700) == 0, mkdir(path + "/workspace", 0o700) == 0 else {
                    let e = Errno.current
                    Scratch(path: path).remove()
                    tried.append("\(base): \(e.name)")
                    continue
                }
                return Scratch(path: path)
            }
            tried.append("\(base): \(Errno.current.name)")
        }
        throw ProbeError("cannot create a scratch directory (\(tried.joined(separator: ", "))); set TMPDIR to a writable directory")
    }

    func remove() {
        _ = rmdir(path + "/mnt")
        _ = rmdir(path + "/workspace")
        _ = rmdir(path)
    }
}
