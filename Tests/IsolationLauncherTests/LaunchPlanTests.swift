import XCTest
import NamespaceProbe
import IsolationSelector
@testable import IsolationLauncher

/// The pure parts of the launcher: tenant ids, verified facts, the plan, the environment.
final class LaunchPlanTests: XCTestCase {
    func facts(_ values: [String: String]) throws -> VerifiedFacts { try VerifiedFacts.parse(values, source: "test") }

    func testTenantIDAlphabet() throws {
        for good in ["a", "0", "tenant-1", "t_2", String(repeating: "x", count: 63)] { XCTAssertNoThrow(try TenantID(good), good) }
        for bad in ["", ".", "..", ".a", "a/b", "A", "-a", "_a", "a b", "é", String(repeating: "x", count: 64), "a\u{0}"] {
            XCTAssertThrowsError(try TenantID(bad), bad)
        }
    }

    func testPlanUsesTheVerifiedBackendAndLayersEveryVerifiedExtra() throws {
        let f = try facts(["ISOLATION_BACKEND": "namespaces", "ISOLATION_AVAILABLE": "namespaces,namespaces-shared-proc,landlock,uid,directories",
                           "ISOLATION_USER_NAMESPACE": "0", "ISOLATION_LANDLOCK_ABI": "6", "ISOLATION_UID_SWITCH": "1",
                           "ISOLATION_HARDENING_SECCOMP_FILTER": "1"])
        let p = try LaunchPlan.make(requested: nil, network: nil, facts: f, launcherUID: 1000)
        XCTAssertEqual(p.backend, .namespaces)
        XCTAssertEqual(p.network, .none)
        XCTAssertEqual(p.namespaces, [.pid, .mnt, .net, .ipc, .uts])
        XCTAssertTrue(p.perTenantUID && p.seccompFilter)
        XCTAssertEqual(p.landlockABI, 6)
        XCTAssertEqual(p.proc, .fresh)
        let shared = try LaunchPlan.make(requested: .namespacesSharedProc, network: .shared, facts: f, launcherUID: 1000)
        XCTAssertEqual(shared.namespaces, [.pid, .mnt, .ipc, .uts])
        XCTAssertEqual(shared.proc, .container)
        let dirs = try LaunchPlan.make(requested: .directories, network: nil, facts: f, launcherUID: 1000)
        XCTAssertEqual(dirs.network, .shared)
        XCTAssertFalse(dirs.perTenantUID)
        XCTAssertNil(dirs.landlockABI)
        XCTAssertTrue(dirs.seccompFilter, "the small filter applies everywhere it installs")
    }

    func testAnUnverifiedBackendAndNetworkNoneWithoutANamespaceAreRefused() throws {
        let f = try facts(["ISOLATION_BACKEND": "uid", "ISOLATION_AVAILABLE": "uid,directories", "ISOLATION_UID_SWITCH": "1"])
        XCTAssertThrowsError(try LaunchPlan.make(requested: .namespaces, network: nil, facts: f, launcherUID: 1000)) { error in
            XCTAssertTrue("\(error)".contains("was not verified"), "\(error)")
        }
        XCTAssertThrowsError(try LaunchPlan.make(requested: .landlock, network: nil, facts: f, launcherUID: 1000))
        XCTAssertThrowsError(try LaunchPlan.make(requested: nil, network: LaunchPlan.Network.none, facts: f, launcherUID: 1000)) { error in
            XCTAssertTrue("\(error)".contains("--network none"), "\(error)")
        }
        XCTAssertEqual(try LaunchPlan.make(requested: nil, network: nil, facts: f, launcherUID: 1000).backend, .uid)
    }

    func testOnlyTheKindsTheContainerAllowsAreUsed() throws {
        let f = try facts(["ISOLATION_BACKEND": "namespaces", "ISOLATION_AVAILABLE": "namespaces,directories", "ISOLATION_NAMESPACES": "pid,mnt"])
        let p = try LaunchPlan.make(requested: nil, network: nil, facts: f, launcherUID: 1000)
        XCTAssertEqual(p.namespaces, [.pid, .mnt])
        XCTAssertEqual(p.network, .shared, "no verified net namespace: the network is shared, and said so")
        XCTAssertThrowsError(try LaunchPlan.make(requested: nil, network: LaunchPlan.Network.none, facts: f, launcherUID: 1000))
        XCTAssertTrue(NetworkExposure.reopened(p).contains { $0.contains("no ipc namespace") })
        XCTAssertThrowsError(try facts(["ISOLATION_BACKEND": "namespaces", "ISOLATION_NAMESPACES": "pid,bogus"]))
        // From the second review: a hand-cut env with pid alone ran a namespace backend.
        XCTAssertThrowsError(try LaunchPlan.make(requested: nil, network: nil,
                                                 facts: try facts(["ISOLATION_BACKEND": "namespaces", "ISOLATION_NAMESPACES": "pid"]), launcherUID: 1000))
    }

    func testATenantNeverRunsAsRoot() throws {
        let f = try facts(["ISOLATION_BACKEND": "namespaces", "ISOLATION_AVAILABLE": "namespaces,landlock,uid,directories", "ISOLATION_UID_SWITCH": "1",
                           "ISOLATION_LANDLOCK_ABI": "6"])
        XCTAssertThrowsError(try LaunchPlan.make(requested: .directories, network: nil, facts: f, launcherUID: 0)) { error in
            XCTAssertTrue("\(error)".contains("uid 0") && "\(error)".contains("--backend uid"), "\(error)")
        }
        XCTAssertTrue(try LaunchPlan.make(requested: .landlock, network: nil, facts: f, launcherUID: 0).perTenantUID)
        let noSwitch = try facts(["ISOLATION_BACKEND": "landlock", "ISOLATION_AVAILABLE": "landlock,directories", "ISOLATION_LANDLOCK_ABI": "6"])
        XCTAssertThrowsError(try LaunchPlan.make(requested: nil, network: nil, facts: noSwitch, launcherUID: 0))
        XCTAssertNoThrow(try LaunchPlan.make(requested: .directories, network: nil, facts: noSwitch, launcherUID: 1000))
    }

    func testABackendWithoutTheFactOfItsLayerIsRefused() throws {
        // Found by the server tests: ISOLATION_BACKEND=uid alone ran the tenant as the launcher.
        XCTAssertThrowsError(try LaunchPlan.make(requested: nil, network: nil, facts: try facts(["ISOLATION_BACKEND": "uid"]), launcherUID: 1000))
        XCTAssertThrowsError(try LaunchPlan.make(requested: nil, network: nil, facts: try facts(["ISOLATION_BACKEND": "landlock"]), launcherUID: 1000))
        XCTAssertThrowsError(try LaunchPlan.make(requested: nil, network: nil, facts: try facts(["ISOLATION_BACKEND": "namespaces"]), launcherUID: 0))
    }

    func testFactsFromAnOldEnvFileKnowOnlyTheChosenBackend() throws {
        let f = try facts(["ISOLATION_BACKEND": "landlock", "ISOLATION_LANDLOCK_ABI": "4"])
        XCTAssertEqual(f.available, [.landlock, .directories])
        XCTAssertThrowsError(try facts(["ISOLATION_BACKEND": "vm"]))
        XCTAssertThrowsError(try facts([:]))
    }

    func testEnvironmentHoldsOnlyWhatIsAllowed() throws {
        let env = try TenantEnvironment.build(tenant: TenantID("a"), home: "/w/a/.home", tmpdir: "/tmp", pwd: "/w/a",
                                              requested: ["KEY", "SET=1", "MISSING"],
                                              inherited: ["KEY": "k", "SECRET": "s", "LANG": "C.UTF-8", "LC_ALL": "C", "ISOLATION_BACKEND": "uid"])
        XCTAssertEqual(env, ["PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/w/a/.home", "TMPDIR=/tmp", "PWD=/w/a", "USER=a", "LOGNAME=a",
                             "LANG=C.UTF-8", "LC_ALL=C", "KEY=k", "SET=1"])
        XCTAssertThrowsError(try TenantEnvironment.build(tenant: TenantID("a"), home: "", tmpdir: "", pwd: "", requested: ["1X=2"], inherited: [:]))
        XCTAssertThrowsError(try TenantEnvironment.build(tenant: TenantID("a"), home: "", tmpdir: "", pwd: "", requested: ["=x"], inherited: [:]))
    }

    func testUIDRegistryRecordsParse() {
        let records = TenantUIDRegistry.parse("a 100000\nb 100001\ngarbage\n")
        XCTAssertEqual(records.map(\.tenant), ["a", "b"])
        XCTAssertEqual(records.map(\.uid), [100000, 100001])
    }

    func testSeccompProgramEndsInAllowAndChecksTheArchitectureFirst() {
        let p = TenantSeccompFilter.program()
        XCTAssertEqual(p.first?.k, 4, "offsetof(struct seccomp_data, arch)")
        XCTAssertEqual(p.last?.k, 0x7fff_0000)
        XCTAssertLessThan(p.count, 256)
    }
}
