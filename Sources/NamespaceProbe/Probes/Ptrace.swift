import Glibc
import CNamespaceProbe

/// Can a process be traced by its parent? The probe child asks to be traced (the probe
/// process becomes its tracer) and stops; the probe process must see the stop, then detaches.
/// No tracee of its own: under gVisor one more process costs about 5 ms. The probe process
/// never asks to be traced itself, so it stays untraceable.
///
/// While traced, every signal the child gets stops it for the tracer. The probe process
/// waits for stops only once the child has said it stops, so the child must have no child
/// of its own alive here: a SIGCHLD before that record would leave it stopped until the
/// deadline (measured: with the chain's PID 1 still running, 1 run in 100 timed out).
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
