import Foundation
import NamespaceProbe

/// Fixture files captured from real systems (host and `runsc --network=none do`).
func fixture(_ path: String, file: StaticString = #filePath) -> String {
    let dir = URL(fileURLWithPath: "\(file)").deletingLastPathComponent().appendingPathComponent("Fixtures")
    return (try? String(contentsOf: dir.appendingPathComponent(path), encoding: .utf8)) ?? "<missing fixture \(path)>"
}
