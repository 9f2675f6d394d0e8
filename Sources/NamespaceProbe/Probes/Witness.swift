import Glibc
import CNamespaceProbe

/// A process forked before unshare(), so it stays in the old namespaces: it answers one
/// question about what the outside sees (the hostname, a SysV key) after the probe acted.
struct Witness {
    let pid: pid_t
    let requestFD: Int32
    let replyFD: Int32

    static func spawn(_ check: @escaping (String) -> String) -> Witness? {
        var request: [Int32] = [0, 0], reply: [Int32] = [0, 0]
        guard cnp_pipe2_cloexec(&request) == 0 else { return nil }
        guard cnp_pipe2_cloexec(&reply) == 0 else { close(request[0]); close(request[1]); return nil }
        let pid = fork()
        if pid == 0 {
            _ = cnp_prctl(PR_SET_PDEATHSIG, UInt(SIGKILL), 0, 0, 0)
            close(request[1]); close(reply[0])
            let question = readAll(request[0])
            let answer = Array(check(question).utf8)
            _ = answer.withUnsafeBytes { write(reply[1], $0.baseAddress, $0.count) }
            _exit(0)
        }
        close(request[0]); close(reply[1])
        if pid < 0 { close(request[1]); close(reply[0]); return nil }
        return Witness(pid: pid, requestFD: request[1], replyFD: reply[0])
    }

    /// Sends the question, waits for the answer, reaps the witness.
    func ask(_ question: String) -> String {
        let bytes = Array(question.utf8)
        _ = bytes.withUnsafeBytes { write(requestFD, $0.baseAddress, $0.count) }
        close(requestFD)
        let answer = Witness.readAll(replyFD)
        close(replyFD)
        _ = Subprocess.wait(pid)
        return answer
    }

    /// Ends a witness that will not be asked (the probe failed before acting).
    func dismiss() {
        close(requestFD)
        close(replyFD)
        _ = Subprocess.wait(pid)
    }

    static func readAll(_ fd: Int32) -> String {
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 512)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            bytes.append(contentsOf: chunk[0..<n])
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
