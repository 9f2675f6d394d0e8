/// Report <-> JSON, schema 1 (docs/report-schema.md). Decoding lets saved reports feed the
/// selector and `probe matrix` without re-probing.
extension Report {
    public func json() -> JSON {
        let env = environment
        return .object([
            ("schema", .int(Int64(schema))),
            ("tool", .object([("name", .string("namespace-probe")), ("version", .string(toolVersion))])),
            ("duration_us", .int(durationMicros)),
            ("timeout_ms", .int(Int64(timeoutMillis))),
            ("environment", .object([
                ("kernel", .object([("release", .string(env.kernelRelease)), ("version", .string(env.kernelVersion)),
                                    ("machine", .string(env.machine)), ("proc_version", .optional(env.procVersion))])),
                ("uid", .int(Int64(env.uid))), ("euid", .int(Int64(env.euid))), ("gid", .int(Int64(env.gid))),
                ("pid", .int(Int64(env.pid))), ("pid1", .bool(env.isPID1)),
                ("cgroup_version", .string(env.cgroupVersion)), ("lsm_label", .optional(env.lsmLabel)),
                ("seccomp", .object([("mode", .optional(env.seccompMode)), ("filters", .optional(env.seccompFilters)),
                                     ("no_new_privs", env.noNewPrivs.map(JSON.bool) ?? .null)])),
                ("sysctls", .object(EnvironmentFacts.sysctlNames.map { ($0, .optional(env.sysctl($0))) })),
                ("root", .object([("chrooted", env.root.chrooted.map(JSON.bool) ?? .null), ("evidence", .string(env.root.evidence))])),
            ])),
            ("runtimes", .array(runtimes.map { r in
                .object([("name", .string(r.name)), ("confidence", .string(r.confidence.rawValue)),
                         ("evidence", .array(r.evidence.map(JSON.string))), ("detail", .optional(r.detail))])
            })),
            ("unshare_rejects_invalid_flags", unshareRejectsInvalidFlags.json()),
            ("namespaces", .object(namespaces.map { ($0.kind.rawValue, $0.results.json()) })),
            ("sandbox_chain", sandboxChain.json()),
            ("capabilities", .object([("last_cap", .int(Int64(capabilities.lastCap)))] + [
                ("effective", capabilities.effective), ("permitted", capabilities.permitted),
                ("inheritable", capabilities.inheritable), ("bounding", capabilities.bounding),
                ("ambient", capabilities.ambient),
            ].map { name, mask in
                (name, .object([("mask", .string(String(mask, radix: 16))), ("names", .array(capabilities.names(mask).map(JSON.string)))]))
            })),
            ("seccomp", .object([("own_filter", seccompOwnFilter.json()), ("user_notification", seccompListener.json())])),
            ("landlock", .object([("abi", .optional(landlockABI)), ("abi_errno", .optional(landlockABIErrno?.name)),
                                  ("enforcement", landlockEnforcement.json())])),
            ("ptrace", ptrace.json()),
            ("identity_switch", identitySwitch.json()),
        ])
    }

    public init(json: JSON) throws {
        let d = Decoder(json, path: "")
        let schema = try d.int("schema")
        guard schema == Report.schemaVersion else {
            throw ProbeError("report schema \(schema) is not supported by this probe (it reads schema \(Report.schemaVersion))")
        }
        let e = try d.child("environment")
        let kernel = try e.child("kernel")
        let seccomp = try e.child("seccomp")
        var sysctls: [String: String?] = [:]
        if case .object(let pairs)? = e.value["sysctls"] { for (k, v) in pairs { sysctls[k] = v.string } }
        var environment = EnvironmentFacts(
            kernelRelease: try kernel.string("release"), kernelVersion: try kernel.string("version"),
            machine: try kernel.string("machine"), procVersion: kernel.value["proc_version"]?.string,
            uid: UInt32(try e.int("uid")), euid: UInt32(try e.int("euid")), gid: UInt32(try e.int("gid")),
            pid: Int32(try e.int("pid")), cgroupVersion: try e.string("cgroup_version"),
            lsmLabel: e.value["lsm_label"]?.string, seccompMode: seccomp.value["mode"]?.int.map { Int($0) },
            seccompFilters: seccomp.value["filters"]?.int.map { Int($0) }, noNewPrivs: seccomp.value["no_new_privs"]?.bool,
            sysctls: sysctls)
        if let root = e.value["root"] {
            environment.root = RootCheck(chrooted: root["chrooted"]?.bool, evidence: root["evidence"]?.string ?? "")
        }
        let runtimes = try d.array("runtimes").map { r in
            RuntimeFinding(name: try r.string("name"), confidence: Confidence(rawValue: try r.string("confidence")) ?? .no,
                           evidence: (r.value["evidence"]?.array ?? []).compactMap { $0.string }, detail: r.value["detail"]?.string)
        }
        let ns = try d.child("namespaces")
        let namespaces = try NamespaceKind.allCases.map { NamespaceResult(kind: $0, results: try ModeResults(ns.child($0.rawValue))) }
        let caps = try d.child("capabilities")
        func mask(_ name: String) throws -> UInt64 { UInt64(try caps.child(name).string("mask"), radix: 16) ?? 0 }
        let landlock = try d.child("landlock")
        self.init(
            environment: environment, runtimes: runtimes, namespaces: namespaces,
            unshareRejectsInvalidFlags: try ProbeResult(d.child("unshare_rejects_invalid_flags")),
            sandboxChain: try ModeResults(d.child("sandbox_chain")),
            capabilities: CapabilitySets(effective: try mask("effective"), permitted: try mask("permitted"),
                                         inheritable: try mask("inheritable"), bounding: try mask("bounding"),
                                         ambient: try mask("ambient"), lastCap: Int(try caps.int("last_cap"))),
            seccompOwnFilter: try ProbeResult(d.child("seccomp").child("own_filter")),
            seccompListener: try ProbeResult(d.child("seccomp").child("user_notification")),
            landlockABI: landlock.value["abi"]?.int.map { Int($0) },
            landlockABIErrno: landlock.value["abi_errno"]?.string.flatMap { Errno(name: $0) },
            landlockEnforcement: try ProbeResult(landlock.child("enforcement")),
            ptrace: try ProbeResult(d.child("ptrace")), identitySwitch: try ProbeResult(d.child("identity_switch")),
            timeoutMillis: Int(try d.int("timeout_ms")), durationMicros: try d.int("duration_us"))
    }
}

extension ModeResults {
    func json() -> JSON { .object([("as_is", asIs.json()), ("in_user_namespace", inUserNamespace.json())]) }
    init(_ d: Decoder) throws {
        self.init(asIs: try ProbeResult(d.child("as_is")), inUserNamespace: try ProbeResult(d.child("in_user_namespace")))
    }
}

extension ProbeResult {
    public func json() -> JSON {
        .object([
            ("verdict", .string(verdict.rawValue)),
            ("failed_step", .optional(failedStep)),
            ("errno", .optional(errno?.name)),
            ("errno_number", .optional(errno.map { Int($0.rawValue) })),
            ("signal", .optional(signal.map(SignalName.name))),
            ("cause", .optional(cause)),
            ("detail", .optional(detail)),
            ("duration_us", .int(durationMicros)),
            ("facts", .object(facts.keys.sorted().map { ($0, .string(facts[$0]!)) })),
            ("steps", .array(steps.map { s in
                .object([("name", .string(s.name)), ("outcome", .string(s.outcome.rawValue)),
                         ("errno", .optional(s.errno?.name)), ("errno_number", .optional(s.errno.map { Int($0.rawValue) })),
                         ("detail", .optional(s.detail))])
            })),
        ])
    }

    init(_ d: Decoder) throws {
        let verdictName = try d.string("verdict")
        guard let verdict = Verdict(rawValue: verdictName) else { throw d.error("unknown verdict \(verdictName)") }
        func errnoOf(_ o: JSON) -> Errno? { o["errno_number"]?.int.map { Errno(rawValue: Int32($0)) } }
        var facts: [String: String] = [:]
        if case .object(let pairs)? = d.value["facts"] { for (k, v) in pairs { facts[k] = v.string } }
        self.init(
            verdict: verdict,
            steps: try d.array("steps").map { s in
                Step(name: try s.string("name"), outcome: StepOutcome(rawValue: try s.string("outcome")) ?? .failed,
                     errno: errnoOf(s.value), detail: s.value["detail"]?.string)
            },
            failedStep: d.value["failed_step"]?.string, errno: errnoOf(d.value),
            signal: d.value["signal"]?.string.flatMap(SignalName.number), detail: d.value["detail"]?.string,
            cause: d.value["cause"]?.string, facts: facts, durationMicros: d.value["duration_us"]?.int ?? 0)
    }
}

/// Reads required fields and names the path of a missing one.
struct Decoder {
    let value: JSON
    let path: String
    init(_ value: JSON, path: String) {
        self.value = value
        self.path = path
    }
    func error(_ what: String) -> ProbeError { ProbeError("report field \(path.isEmpty ? "(top)" : path): \(what)") }
    func child(_ key: String) throws -> Decoder {
        guard let v = value[key], case .object = v else { throw Decoder(value, path: path + "." + key).error("missing object") }
        return Decoder(v, path: path + "." + key)
    }
    func string(_ key: String) throws -> String {
        guard let s = value[key]?.string else { throw Decoder(value, path: path + "." + key).error("missing string") }
        return s
    }
    func int(_ key: String) throws -> Int64 {
        guard let i = value[key]?.int else { throw Decoder(value, path: path + "." + key).error("missing integer") }
        return i
    }
    func array(_ key: String) throws -> [Decoder] {
        guard let a = value[key]?.array else { throw Decoder(value, path: path + "." + key).error("missing array") }
        return a.enumerated().map { Decoder($1, path: "\(path).\(key)[\($0)]") }
    }
}
