import XCTest
import Foundation

/// The built `probe` binary, run as a user would run it.
final class CLITests: XCTestCase {
    static let repo = URL(fileURLWithPath: "\(#filePath)").deletingLastPathComponent().appendingPathComponent("../..").standardized
    var binary: URL {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("probe")
    }

    @discardableResult
    func run(_ args: [String], env: [String: String] = [:]) throws -> (code: Int32, out: String, err: String) {
        let p = Process()
        p.executableURL = binary
        p.arguments = args
        p.currentDirectoryURL = Self.repo
        p.environment = ProcessInfo.processInfo.environment.merging(env) { $1 }
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }

    func report(_ name: String) -> String { "matrix/\(name).json" }

    func testHelpAndVersion() throws {
        let help = try run(["--help"])
        XCTAssertEqual(help.code, 0)
        for word in ["USAGE", "--matrix", "--json", "--require", "--exclude", "--format", "--timeout", "EXIT CODES"] {
            XCTAssertTrue(help.out.contains(word), word)
        }
        XCTAssertTrue(try run(["--version"]).out.hasPrefix("namespace-probe "))
    }

    func testUsageErrorsExit2WithAClearMessage() throws {
        for (args, needle) in [(["--bogus"], "unknown option '--bogus'"), (["--require", "vm"], "unknown backend 'vm'"),
                               (["--exclude", "x"], "unknown backend 'x'"), (["--timeout", "-1"], "--timeout"),
                               (["--format", "yaml"], "unknown format"), (["matrix"], "at least one saved report")] {
            let r = try run(args)
            XCTAssertEqual(r.code, 2, "\(args)")
            XCTAssertTrue(r.err.contains(needle), "\(args): \(r.err)")
        }
    }

    func testRequireExits3WhereTheHostIsTooWeak() throws {
        let weak = try run(["--from", report("gvisor-20221219-root"), "--require", "namespaces-shared-proc", "--select"])
        XCTAssertEqual(weak.code, 3)
        XCTAssertEqual(weak.out, "uid\n")
        XCTAssertTrue(weak.err.contains("make / private"), weak.err)
        XCTAssertEqual(try run(["--from", report("gvisor-20221219-root"), "--require", "uid", "--select"]).code, 0)
        XCTAssertEqual(try run(["--from", report("host-root"), "--require", "namespaces", "--select"]).code, 0)
        let excluded = try run(["--from", report("host-root"), "--exclude", "namespaces", "--require", "namespaces"])
        XCTAssertEqual(excluded.code, 3)
        XCTAssertTrue(excluded.err.contains("excluded"), excluded.err)
    }

    func testUnreadableReportExits1() throws {
        let r = try run(["--from", "/nonexistent/report.json"])
        XCTAssertEqual(r.code, 1)
        XCTAssertTrue(r.err.contains("cannot read /nonexistent/report.json"), r.err)
    }

    func testEnvFormatIsSafeForShAndEnvFile() throws {
        let r = try run(["--from", report("bubblewrap-masked-proc"), "--format", "env"])
        XCTAssertEqual(r.code, 0)
        let lines = r.out.split(separator: "\n")
        XCTAssertEqual(lines.first, "ISOLATION_BACKEND=namespaces-shared-proc")
        for line in lines {
            XCTAssertNotNil(line.range(of: "^[A-Z_]+=[A-Za-z0-9_,./:-]*$", options: .regularExpression), String(line))
        }
        let sourced = Process()
        sourced.executableURL = URL(fileURLWithPath: "/bin/sh")
        sourced.arguments = ["-c", "set -a; . /dev/stdin; echo \"$ISOLATION_PROC $ISOLATION_USER_NAMESPACE\""]
        let inPipe = Pipe(), outPipe = Pipe()
        sourced.standardInput = inPipe
        sourced.standardOutput = outPipe
        try sourced.run()
        inPipe.fileHandleForWriting.write(Data(r.out.utf8))
        inPipe.fileHandleForWriting.closeFile()
        sourced.waitUntilExit()
        XCTAssertEqual(String(decoding: outPipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self), "shared 1\n")
    }

    func testJSONFromASavedReportKeepsEveryFieldAndAddsTheSelection() throws {
        let original = try JSONSerialization.jsonObject(with: Data(contentsOf: Self.repo.appendingPathComponent(report("gvisor-20221219-root")))) as! [String: Any]
        let r = try run(["--from", report("gvisor-20221219-root"), "--json"])
        let again = try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as! [String: Any]
        XCTAssertEqual(Set(again.keys), Set(original.keys))
        XCTAssertEqual((again["selection"] as! [String: Any])["backend"] as? String, "uid")
        XCTAssertEqual(again["schema"] as? Int, 1)
    }

    func testOutputIsWrittenAtomically() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("probe-cli-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let target = dir.appendingPathComponent("selection.env")
        XCTAssertEqual(try run(["--from", report("host-root"), "--format", "env", "--output", target.path]).code, 0)
        XCTAssertTrue(try String(contentsOf: target, encoding: .utf8).hasPrefix("ISOLATION_BACKEND=namespaces\n"))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), ["selection.env"], "no temporary file left")
        let bad = try run(["--from", report("host-root"), "--output", "/nonexistent-dir/x"])
        XCTAssertEqual(bad.code, 1)
    }

    func testNoColourUnlessAsked() throws {
        XCTAssertFalse(try run(["--from", report("host-root")]).out.contains("\u{1B}["), "not a terminal")
        XCTAssertTrue(try run(["--from", report("host-root"), "--color"]).out.contains("\u{1B}["))
    }

    /// matrix/README.md carries exactly what `probe matrix matrix/*.json` generates.
    func testCommittedMatrixTableIsCurrent() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.repo.appendingPathComponent("matrix").path)
            .filter { $0.hasSuffix(".json") }.sorted().map { "matrix/\($0)" }
        let generated = try run(["matrix"] + files)
        XCTAssertEqual(generated.code, 0, generated.err)
        let readme = try String(contentsOf: Self.repo.appendingPathComponent("matrix/README.md"), encoding: .utf8)
        let begin = "<!-- BEGIN GENERATED: probe matrix matrix/*.json -->\n"
        guard let start = readme.range(of: begin), let end = readme.range(of: "<!-- END GENERATED -->") else {
            return XCTFail("matrix/README.md lacks the generated-table markers")
        }
        XCTAssertEqual(String(readme[start.upperBound..<end.lowerBound]), generated.out,
                       "matrix/README.md is stale: run scripts/record-matrix --readme-only")
        let json = try run(["matrix", "--format", "json"] + files)
        let parsed = try JSONSerialization.jsonObject(with: Data(json.out.utf8)) as! [String: Any]
        XCTAssertEqual((parsed["environments"] as! [Any]).count, files.count)
    }

    /// matrix/README.md's isolation tables are what `probe matrix matrix/verify/*.json` generates.
    func testCommittedIsolationMatrixIsCurrent() throws {
        let dir = Self.repo.appendingPathComponent("matrix/verify").path
        let files = try FileManager.default.contentsOfDirectory(atPath: dir)
            .filter { $0.hasSuffix(".json") }.sorted().map { "matrix/verify/\($0)" }
        XCTAssertFalse(files.isEmpty, "matrix/verify holds the recorded probe verify runs")
        let generated = try run(["matrix"] + files)
        XCTAssertEqual(generated.code, 0, generated.err)
        let readme = try String(contentsOf: Self.repo.appendingPathComponent("matrix/README.md"), encoding: .utf8)
        let begin = "<!-- BEGIN GENERATED: probe matrix matrix/verify/*.json -->\n"
        guard let start = readme.range(of: begin),
              let end = readme.range(of: "<!-- END GENERATED -->", range: start.upperBound..<readme.endIndex) else {
            return XCTFail("matrix/README.md lacks the isolation-table markers")
        }
        XCTAssertEqual(String(readme[start.upperBound..<end.lowerBound]), generated.out,
                       "matrix/README.md is stale: run scripts/record-matrix --readme-only")
        XCTAssertTrue(generated.out.contains("A01 read"), generated.out)
    }
}
