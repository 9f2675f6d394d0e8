import Glibc
import NamespaceProbe

/// execve of the tenant's command with its PATH looked up as execvp(3) does, recorded as a
/// step: a failure is reported with errno and ends the process with 127 (not found) or 126
/// (found, not executable), as env(1) and timeout(1) do. On success the launcher's record
/// pipe closes (close-on-exec) with the step left open, which is how it knows.
enum CommandExec {
    static let stepPrefix = "execve "

    static func exec(_ argv: [String], env: [String], path: String, _ w: StepWriter) -> Never {
        let name = argv[0]
        let candidates = name.contains("/") ? [name] : path.split(separator: ":").map { ($0.isEmpty ? "." : String($0)) + "/" + name }
        var cArgs = argv.map { strdup($0) } + [nil]
        var cEnv = env.map { strdup($0) } + [nil]
        var sawEACCES = false
        var last = Errno.ENOENT
        for candidate in candidates {
            var result = StepResult.ok()
            // Announced (and flushed) before the call: a successful execve never returns.
            w.step(stepPrefix + candidate) {
                execve(candidate, &cArgs, &cEnv)
                result = .failed(.current, candidate)
                return .skipped("\(Errno.current.name): trying the next PATH entry")
            }
            guard case .failed(let e?, _) = result else { continue }
            last = e
            if e == .EACCES { sawEACCES = true; continue }
            if e == .ENOENT || e.rawValue == ENOTDIR { continue }
            break
        }
        let final: Errno = sawEACCES && (last == .ENOENT || last.rawValue == ENOTDIR) ? .EACCES : last
        let notFound = final == .ENOENT || final.rawValue == ENOTDIR
        let missing = name.contains("/") ? "command not found" : "command not found (PATH \(path))"
        w.record(stepPrefix + name, .failed(final, notFound ? missing : "command found but not executable"))
        Subprocess.exit(notFound ? 127 : 126)
    }
}
