import Glibc
import CNamespaceProbe

/// Can a process be traced? A grandchild asks to be traced and stops; its parent (the probe
/// child) must see the stop. Never done in the probe itself (it would stay traceable).
public enum PtraceProbe {
    static func run(_ w: StepWriter) {
        var pid: pid_t = -1
        let forked = w.step("fork tracee") {
            pid = fork()
            if pid == 0 {
                _ = cnp_prctl(PR_SET_PDEATHSIG, UInt(SIGKILL), 0, 0, 0)
                if cnp_ptrace_traceme() == -1 { _exit(Int32(errno)) }
                raise(SIGSTOP)
                _exit(0)
            }
            return .check(pid)
        }
        guard forked else { return w.verdict(.failed) }
        let stopped = w.step("PTRACE_TRACEME then stop seen by the tracer") {
            var status: Int32 = 0
            guard waitpid(pid, &status, 0) == pid else { return .failed(.current, "waitpid") }
            if cnp_wifstopped(status) != 0 { return .ok("stopped by \(SignalName.name(cnp_wstopsig(status)))") }
            if cnp_wifexited(status) != 0 {
                let code = cnp_wexitstatus(status)
                return .failed(Errno(rawValue: code), "PTRACE_TRACEME failed in the tracee")
            }
            return .failed(nil, "tracee ended without stopping (\(ChildExit(status: status)))")
        }
        _ = kill(pid, SIGKILL)
        var status: Int32 = 0
        _ = waitpid(pid, &status, 0)
        w.verdict(stopped ? .ok : .failed)
    }
}
