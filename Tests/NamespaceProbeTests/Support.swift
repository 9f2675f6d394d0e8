import Foundation
import NamespaceProbe

/// Fixture files captured from real systems (host and `runsc --network=none do`).
func fixture(_ path: String, file: StaticString = #filePath) -> String {
    let dir = URL(fileURLWithPath: "\(file)").deletingLastPathComponent().appendingPathComponent("Fixtures")
    return (try? String(contentsOf: dir.appendingPathComponent(path), encoding: .utf8)) ?? "<missing fixture \(path)>"
}

extension ProbeJob {
    /// A job with one result, named after the job.
    init(id: String, body: @escaping (StepWriter) -> Void) {
        self.init(id: id, sections: [id]) { w, _ in body(w) }
    }
}
