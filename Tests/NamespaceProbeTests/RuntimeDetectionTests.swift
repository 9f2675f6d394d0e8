import XCTest
@testable import NamespaceProbe

final class RuntimeDetectionTests: XCTestCase {
    func gvisorInputs() -> RuntimeInputs {
        var r = RuntimeInputs()
        r.unameRelease = "4.4.0"
        r.unameVersion = fixture("gvisor/uname_v").trimmingCharacters(in: .whitespacesAndNewlines)
        r.procVersion = fixture("gvisor/version")
        r.kernelLog = fixture("gvisor/kmsg")
        r.mountinfo = fixture("gvisor/mountinfo")
        return r
    }

    func confidence(_ name: String, _ r: RuntimeInputs) -> Confidence? {
        RuntimeDetection.detect(r).first { $0.name == name }?.confidence
    }

    func testGVisorFromRealMarkers() {
        let found = RuntimeDetection.detect(gvisorInputs()).first { $0.name == "gvisor" }!
        XCTAssertEqual(found.confidence, .yes)
        XCTAssertEqual(found.evidence.count, 4, "\(found.evidence)")
    }

    func testOneMarkerAloneIsOnlyLikely() {
        var r = RuntimeInputs()
        r.unameRelease = "4.4.0"
        r.unameVersion = RuntimeDetection.gvisorVersionString  // spoofable on its own
        XCTAssertEqual(confidence("gvisor", r), .likely)
    }

    func testHostIsNotGVisor() {
        var r = RuntimeInputs()
        r.unameRelease = "6.18.44"
        r.unameVersion = fixture("host/uname_v").trimmingCharacters(in: .whitespacesAndNewlines)
        r.procVersion = fixture("host/version")
        r.mountinfo = fixture("host/mountinfo")
        XCTAssertEqual(confidence("gvisor", r), .no)
    }

    func testCloudRunGenerationFollowsGVisor() {
        var r = gvisorInputs()
        r.environment = ["K_SERVICE": "api", "K_REVISION": "api-00001"]
        let first = RuntimeDetection.detect(r).first { $0.name == "cloud-run" }!
        XCTAssertEqual(first.confidence, .yes)
        XCTAssertEqual(first.detail, "service, first generation (gVisor seen)")
        var second = RuntimeInputs()
        second.environment = ["CLOUD_RUN_JOB": "j", "CLOUD_RUN_EXECUTION": "j-1"]
        XCTAssertEqual(RuntimeDetection.detect(second).first { $0.name == "cloud-run" }!.detail, "job, second generation (no gVisor seen)")
    }

    func testContainerRuntimes() {
        var r = RuntimeInputs()
        r.existingPaths = ["/.dockerenv"]
        r.cgroup = "0::/system.slice/docker-abc.scope"
        XCTAssertEqual(confidence("docker", r), .yes)
        r = RuntimeInputs()
        r.environment = ["KUBERNETES_SERVICE_HOST": "10.0.0.1"]
        XCTAssertEqual(confidence("kubernetes", r), .likely)
        r.environment["container"] = "podman"
        r.existingPaths = ["/run/.containerenv"]
        XCTAssertEqual(confidence("podman", r), .yes)
        r = RuntimeInputs()
        r.procVersion = "Linux version 5.15.153.1-microsoft-standard-WSL2"
        r.environment = ["WSL_DISTRO_NAME": "Debian"]
        XCTAssertEqual(confidence("wsl", r), .yes)
    }
}
