import Glibc
import CNamespaceProbe

/// Can a process be traced by its parent? The probe child asks to be traced (the probe
/// process becomes its tracer) and stops; the probe process must see the stop, then detaches.
/// No tracee of its own: under gVisor one more process costs about 5 ms. The probe process
/// never asks to be traced itself, so it stays untraceable.
public enum PtraceProbe {
    static func run(_ w: StepWriter) {
        let traced = w.step("PTRACE_TRACEME (the probe process becomes the tracer)") { .check(Int32(cnp_ptrace_traceme())) }
        guard traced else { return w.verdict(.failed) }
        let seen = w.step("stop seen by the tracer, then detached") {
            guard let answer = w.stopForTracer() else { return .failed(nil, "no answer from the tracer") }
            return answer.hasPrefix("stopped") ? .ok(answer) : .failed(nil, answer)
        }
        w.verdict(seen ? .ok : .failed)
    }
}
