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

    func testBriefRoundTripsWithEveryField() throws {
        let c = Canaries.fresh()
        let planted = Planted(pid: 42, uid: 100000, workspace: "/w/a", home: "/w/a/.home", tmpdir: "/tmp", port: 4242,
                              sysvId: 7, failures: [("tmp", "create /tmp/x: EACCES")])
        let brief = Brief(canaries: c, planted: planted, root: "/w", tenantA: "a", serverCredentials: "/w/.server-credentials",
                          hostPidA: 4242, verifierUid: 0, verifierPidNamespace: 4026531836, serverPort: 8080,
                          verifierPid: 1, killAllConfinedBy: nil)
        let again = try Brief(json: JSON.parse(brief.json.serialized()))
        XCTAssertEqual(again.planted, planted)
        XCTAssertEqual(again.planted.failure("tmp"), "create /tmp/x: EACCES")
        XCTAssertNil(again.killAllConfinedBy, "no confinement stays no confinement: kill(-1) is then never run")
        XCTAssertEqual(again.verifierPidNamespace, 4026531836)
    }

    func testObservationsParseOnlyKnownOutcomes() throws {
        let o = Observation("A01", .leaked, "read /w/a/secret.txt")
        XCTAssertEqual(try Observation(json: JSON.parse(o.json.serialized())), o)
        XCTAssertThrowsError(try Observation(json: JSON.parse(#"{"id":"A01","observed":"maybe","evidence":"x"}"#)))
    }
}
