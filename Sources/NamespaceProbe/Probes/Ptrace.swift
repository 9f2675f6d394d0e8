import Glibc
import CNamespaceProbe

/// Can a process be traced by its parent? The probe child asks to be traced (the probe
/// process becomes its tracer) and stops; the probe process must see the stop, then detaches.
/// No tracee of its own: under gVisor one more process costs about 5 ms. The probe process
/// never asks to be traced itself, so it stays untraceable.
///
/// While traced, every signal the child gets stops it for the tracer; the runner hands
/// such signals over and waits on for the SIGSTOP. It is told to wait before the child
/// asks to be traced: told after, a SIGCHLD in between left the child stopped until the
/// deadline (1 run in 100 under gVisor, with a grandchild still running).
public enum PtraceProbe {
    static func run(_ w: StepWriter) {
        // The probe process waits for this child's next stop from here on, so a signal that
        // stops the child once traced (a SIGCHLD, say) always finds it waiting.
        guard w.expectStop() else { return w.verdict(.failed, "no probe process to trace this child") }
        let traced = w.step("PTRACE_TRACEME (the probe process becomes the tracer)") { .check(Int32(cnp_ptrace_traceme())) }
        // Stop even when not traced: the probe process is waiting, and continues an
        // untraced child with SIGCONT.
        let seen = w.step("stop seen by the tracer, then detached") {
            guard let answer = w.stopAndWait() else { return .failed(nil, "no answer from the probe process") }
            guard traced else { return .skipped("not traced: \(answer)") }
            return answer == ChildRunner.detachedAnswer ? .ok(answer) : .failed(nil, answer)
        }
        w.verdict(traced && seen ? .ok : .failed)
    }
}
