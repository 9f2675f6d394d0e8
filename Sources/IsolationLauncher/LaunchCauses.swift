import NamespaceProbe

/// The likely cause of a failed launch step, from the probe's own errno-to-cause table
/// (Explain) read against this process's facts, so a launch and a probe explain the same
/// failure in the same words, plus what the failure means for the launch.
enum LaunchCauses {
    static func cause(step: Step, plan: LaunchPlan) -> String {
        let status = ProcFiles.read("/proc/self/status").map(Parsers.statusFields)
        let fields = (try? status.get()) ?? [:]
        let explain = Explain(environment: EnvironmentFacts.read(status: fields, cgroup: ProcFiles.line("/proc/self/cgroup")),
                              capabilities: CapabilitySets.read(status: fields), unshareSyscallBlocked: false, gvisor: false)
        let result = ProbeResult(verdict: .failed, steps: [step], failedStep: step.name, errno: step.errno, detail: step.detail)
        var why = explain.cause(probe: "launch", result: result) ?? "the step's effect was not observed"
        if step.name.hasPrefix("chdir "), step.errno == .EACCES, plan.perTenantUID {
            why = "EACCES: the tenant's own uid cannot reach its workspace: every directory above the workspace root must be searchable by others (chmod o+x)"
        }
        let detail = step.detail.map { " [\($0)]" } ?? ""
        return why + detail + "; the probe verified \(plan.backend.name) earlier: run `probe` again to see what changed, or launch with a weaker --backend"
    }
}
