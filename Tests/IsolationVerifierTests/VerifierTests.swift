import XCTest
import NamespaceProbe
import IsolationSelector
@testable import IsolationVerifier

final class VerifierTests: XCTestCase {
    func testCanariesRoundTripAndAreDistinct() throws {
        let c = Canaries.fresh()
        XCTAssertEqual(try Canaries(json: JSON.parse(c.json.serialized())), c)
        XCTAssertEqual(Set(c.values).count, c.values.count)
        XCTAssertLessThanOrEqual(c.processNameA.utf8.count, 15, "PR_SET_NAME keeps 15 bytes")
        XCTAssertLessThanOrEqual(c.processNameDaemon.utf8.count, 15)
    }
}
