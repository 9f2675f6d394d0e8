import XCTest
@testable import NamespaceProbe

final class JSONTests: XCTestCase {
    func testRoundTripAndEscapes() throws {
        let value = JSON.object([("a", .string("tab\tquote\"back\\slash\u{01}é")), ("b", .array([.int(-3), .double(1.5), .null, .bool(true)])),
                                 ("c", .object([]))])
        for pretty in [true, false] {
            XCTAssertEqual(try JSON.parse(value.serialized(pretty: pretty)), value)
        }
        let foundation = try JSONSerialization.jsonObject(with: Data(value.serialized().utf8)) as! [String: Any]
        XCTAssertEqual(foundation["a"] as? String, "tab\tquote\"back\\slash\u{01}é", "Foundation reads what we write")
    }

    func testKeyOrderIsStable() {
        XCTAssertEqual(JSON.object([("z", .int(1)), ("a", .int(2))]).serialized(pretty: false), "{\"z\":1,\"a\":2}")
    }

    func testRejectsBrokenInput() {
        for bad in ["{", "[1,]", "{\"a\" 1}", "tru", "\"open", "1 2", String(repeating: "[", count: 100)] {
            XCTAssertThrowsError(try JSON.parse(bad), bad)
        }
    }

    func testRecordedReportsRoundTrip() throws {
        let matrix = URL(fileURLWithPath: "\(#filePath)").deletingLastPathComponent().appendingPathComponent("../../matrix")
        let files = try FileManager.default.contentsOfDirectory(atPath: matrix.path).filter { $0.hasSuffix(".json") }
        XCTAssertGreaterThanOrEqual(files.count, 8)
        for name in files {
            let text = try String(contentsOf: matrix.appendingPathComponent(name), encoding: .utf8)
            let report = try Report(json: JSON.parse(text))
            XCTAssertEqual(try Report(json: report.json()), report, name)
        }
    }

    func testNewerSchemaIsRefusedClearly() {
        XCTAssertThrowsError(try Report(json: .object([("schema", .int(2))]))) { error in
            XCTAssertTrue("\(error)".contains("schema 2 is not supported"), "\(error)")
        }
        XCTAssertThrowsError(try Report(json: .object([("schema", .int(1))]))) { error in
            XCTAssertTrue("\(error)".contains(".environment"), "names the missing field: \(error)")
        }
    }
}
