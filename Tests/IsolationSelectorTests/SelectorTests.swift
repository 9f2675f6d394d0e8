import XCTest
import Foundation
import NamespaceProbe
@testable import IsolationSelector

/// Table tests on reports recorded from real environments (matrix/*.json). Each expected
/// choice is justified by a fact of that report, asserted next to it.
final class SelectorTests: XCTestCase {
    func recorded(_ name: String) throws -> Report {
        let url = URL(fileURLWithPath: "\(#filePath)").deletingLastPathComponent()
            .appendingPathComponent("../../matrix/\(name).json")
        return try Report(json: JSON.parse(String(contentsOf: url, encoding: .utf8)))
    }

    func testHostRootGetsNamespacesWithoutUserNamespace() throws {
        let r = try recorded("host-root")
        XCTAssertEqual(r.sandboxChain.asIs.verdict, .ok, "the chain ran as is with a fresh /proc")
        let s = Selector.select(r)
        XCTAssertEqual(s.chosen, .namespaces)
        XCTAssertTrue(s.parameters.contains { $0 == ("ISOLATION_USER_NAMESPACE", "0") })
        XCTAssertTrue(s.parameters.contains { $0 == ("ISOLATION_PROC", "fresh") })
        XCTAssertNil(s.advice)
    }

    func testUnprivilegedHostNeedsAUserNamespace() throws {
        let r = try recorded("host-unprivileged")
        XCTAssertEqual(r.sandboxChain.asIs.errno, .EPERM, "no CAP_SYS_ADMIN as is")
        XCTAssertEqual(r.sandboxChain.inUserNamespace.verdict, .ok)
        let s = Selector.select(r)
        XCTAssertEqual(s.chosen, .namespaces)
        XCTAssertTrue(s.parameters.contains { $0 == ("ISOLATION_USER_NAMESPACE", "1") })
        XCTAssertFalse(s.candidates.first { $0.backend == .uid }!.available, "uid 65534 cannot setresuid")
    }

    func testMaskedProcFallsBackToSharedProc() throws {
        let r = try recorded("bubblewrap-masked-proc")
        XCTAssertEqual(r.sandboxChain.inUserNamespace.failedStep, SandboxChainProbe.freshProcStep)
        XCTAssertEqual(r.sandboxChain.inUserNamespace.errno, .EPERM)
        let s = Selector.select(r)
        XCTAssertEqual(s.chosen, .namespacesSharedProc)
        XCTAssertTrue(s.parameters.contains { $0 == ("ISOLATION_PROC", "shared") })
        let namespaces = s.candidates.first { $0.backend == .namespaces }!
        XCTAssertEqual(namespaces.shortfalls.first?.step, SandboxChainProbe.freshProcStep, "the mode that got furthest is cited first")
        XCTAssertTrue(s.reason.contains("mount fresh proc"), s.reason)
    }

    func testGVisorRootGetsUid() throws {
        let r = try recorded("gvisor-20221219-root")
        XCTAssertEqual(r.runtime("gvisor")?.confidence, .yes)
        XCTAssertEqual(r.sandboxChain.asIs.errno, .EINVAL, "gVisor refuses making / private")
        XCTAssertEqual(r.landlockABIErrno, .ENOSYS)
        XCTAssertEqual(r.identitySwitch.verdict, .ok)
        let s = Selector.select(r)
        XCTAssertEqual(s.chosen, .uid)
        XCTAssertNotNil(s.advice, "nothing above uid: advise a sandbox per tenant")
        XCTAssertTrue(s.parameters.contains { $0 == ("ISOLATION_GVISOR", "yes") })
    }

    func testGVisorUnprivilegedIsLeftWithDirectoriesAndSaysSo() throws {
        let r = try recorded("gvisor-20221219-unprivileged")
        XCTAssertEqual(r.identitySwitch.errno, .EPERM)
        let s = Selector.select(r)
        XCTAssertEqual(s.chosen, .directories)
        XCTAssertNotNil(s.warning)
        XCTAssertTrue(s.warning!.contains("python"), "says interpreters read what the shared uid can read")
    }

    func testSeccompFilteredContainersGetLandlock() throws {
        for name in ["seccomp-unshare-eperm", "seccomp-unshare-kill"] {
            let r = try recorded(name)
            XCTAssertEqual(r.landlockEnforcement.verdict, .ok, name)
            XCTAssertEqual(r.seccompOwnFilter.verdict, .ok, name)
            XCTAssertNotEqual(r.sandboxChain.asIs.verdict, .ok, name)
            XCTAssertEqual(Selector.select(r).chosen, .landlock, name)
        }
        let killed = try recorded("seccomp-unshare-kill")
        let shortfall = Selector.select(killed).candidates.first { $0.backend == .namespaces }!.shortfalls.first!
        XCTAssertEqual(shortfall.errno, "SIGSYS")
    }

    func testDockerDefaultProfileGetsLandlockAndBlamesSeccomp() throws {
        let r = try recorded("docker-default-crun")
        XCTAssertFalse(r.capabilities.hasEffective(CapabilitySets.sysAdmin), "Docker's default capabilities")
        XCTAssertEqual(r.namespace(.user)?.asIs.failedStep, "unshare(0)")
        XCTAssertEqual(r.namespace(.user)?.asIs.errno, .EPERM)
        let s = Selector.select(r)
        XCTAssertEqual(s.chosen, .landlock)
        XCTAssertTrue(s.candidates.first { $0.backend == .namespaces }!.shortfalls.allSatisfy { $0.cause?.contains("seccomp") == true })
    }

    func testMissingEvidenceNeverSelects() throws {
        var r = try recorded("host-root")
        r.sandboxChain.asIs = ProbeResult(verdict: .timeout, detail: "deadline")
        r.sandboxChain.inUserNamespace = ProbeResult(verdict: .killed, signal: 9)
        r.landlockEnforcement = ProbeResult(verdict: .unverifiable)
        XCTAssertEqual(Selector.select(r).chosen, .uid)
        r.identitySwitch = ProbeResult(verdict: .timeout)
        XCTAssertEqual(Selector.select(r).chosen, .directories)
    }

    func testAChainIsNotEnoughWithoutEachNamespaceVerified() throws {
        var r = try recorded("host-root")
        XCTAssertEqual(r.sandboxChain.asIs.verdict, .ok)
        // unshare(CLONE_NEWIPC) returned 0 but nothing proved a new namespace (as in gVisor).
        let i = r.namespaces.firstIndex { $0.kind == .ipc }!
        r.namespaces[i].results.asIs = ProbeResult(verdict: .unverifiable, detail: "no /proc/self/ns/ipc link")
        let s = Selector.select(r)
        XCTAssertEqual(s.chosen, .landlock)
        let shortfall = s.candidates.first { $0.backend == .namespaces }!.shortfalls
        XCTAssertEqual(shortfall.map(\.probe), ["namespaces.ipc.as_is"])
    }

    func testExcludeSkipsCandidates() throws {
        let s = Selector.select(try recorded("host-root"), excluding: [.namespaces, .namespacesSharedProc])
        XCTAssertEqual(s.chosen, .landlock)
        XCTAssertTrue(s.candidates.first { $0.backend == .namespaces }!.excluded)
    }

    func testUnknownBackendIsAUsageError() {
        XCTAssertThrowsError(try Backend.parse("firecracker")) { error in
            XCTAssertTrue(error is UsageError)
            XCTAssertTrue("\(error)".contains("namespaces, namespaces-shared-proc, landlock, uid, directories"))
        }
    }

    func testStrengthOrder() {
        XCTAssertTrue(Backend.directories < Backend.uid && Backend.uid < Backend.landlock && Backend.landlock < Backend.namespaces)
    }

    // MARK: the attack catalogue behind `protects` / `does not protect`

    func testCatalogueCoversEveryFamilyWithUniqueIds() {
        let ids = AttackCatalogue.attacks.map(\.id)
        XCTAssertEqual(Set(ids).count, ids.count, "ids are unique")
        XCTAssertGreaterThanOrEqual(ids.count, 25)
        XCTAssertEqual(Set(AttackCatalogue.attacks.map(\.family)), Set(Attack.Family.allCases))
    }

    func testPerTenantUidUnderSharedProcClosesEnvironButNotListing() throws {
        let bare = IsolationContext(backend: .namespacesSharedProc, perTenantUid: false, seccomp: true)
        let layered = IsolationContext(backend: .namespacesSharedProc, perTenantUid: true, seccomp: true)
        XCTAssertFalse(AttackCatalogue.attack("A14")!.promise(bare).blocks)
        XCTAssertTrue(AttackCatalogue.attack("A14")!.promise(layered).blocks)
        // cmdline and the listing stay world-readable whatever the uid (proc(5): hidepid aside).
        XCTAssertFalse(AttackCatalogue.attack("A13")!.promise(layered).blocks)
        let s = Selector.select(try recorded("bubblewrap-masked-proc"))
        XCTAssertTrue(s.doesNotProtect.contains("A12"), s.doesNotProtect)
        XCTAssertEqual(s.context.perTenantUid, s.hardening.first { $0.name == "per-tenant uid" }!.available)
    }

    func testLandlockNetworkRowsFollowTheABI() {
        let old = IsolationContext(backend: .landlock, landlockABI: 3)
        let new = IsolationContext(backend: .landlock, landlockABI: 6)
        for id in ["A20", "A22", "A17"] {
            XCTAssertFalse(AttackCatalogue.attack(id)!.promise(old).blocks, id)
            XCTAssertTrue(AttackCatalogue.attack(id)!.promise(new).blocks, id)
        }
        XCTAssertTrue(AttackCatalogue.doesNotProtect(old).contains("Landlock ABI 3 < 6"))
    }

    func testNetworkSharedReopensTheNetworkRowsOfNamespaces() {
        let none = IsolationContext(backend: .namespaces)
        let shared = IsolationContext(backend: .namespaces, network: .shared)
        XCTAssertEqual(AttackCatalogue.attacks.filter { !$0.promise(none).blocks }.map(\.id), [])
        XCTAssertEqual(AttackCatalogue.attacks.filter { !$0.promise(shared).blocks }.map(\.id), ["A20", "A20.server", "A22"])
    }

    func testDirectoriesPromisesOnlyTheLauncherDuties() throws {
        let s = Selector.select(try recorded("gvisor-20221219-unprivileged"))
        XCTAssertEqual(s.chosen, .directories)
        let blocked = s.promises.filter { $0.1.blocks }.map { $0.0.family }
        // Only what the launcher itself does (its seccomp filter stops ptrace): no file, IPC or network row.
        XCTAssertTrue(Set(blocked).isDisjoint(with: [.files, .ipc, .network]), "\(blocked)")
        XCTAssertEqual(s.promises.filter { $0.1.blocks && $0.0.family == .processes }.map { $0.0.id }, ["A16"])
        XCTAssertTrue(s.doesNotProtect.contains("A01"), s.doesNotProtect)
    }

    func testSelectionLinesAreTheCatalogues() throws {
        for name in ["host-root", "gvisor-20221219-root", "seccomp-unshare-eperm", "bubblewrap-masked-proc"] {
            let s = Selector.select(try recorded(name))
            XCTAssertEqual(s.protects, AttackCatalogue.protects(s.context), name)
            for (attack, promise) in s.promises {
                let listed = s.doesNotProtect.split(separator: ";").contains { part in
                    part.split(separator: "(").first!.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.contains(attack.id)
                }
                XCTAssertEqual(listed, !promise.blocks, "\(name) \(attack.id)")
            }
        }
    }

    func testUnderGVisorTheUidBackendDoesNotPromiseEnviron() throws {
        let s = Selector.select(try recorded("gvisor-20221219-root"))
        XCTAssertEqual(s.chosen, .uid)
        XCTAssertTrue(s.context.gvisor)
        let environ = s.promises.first { $0.0.id == "A14" }!.1
        XCTAssertFalse(environ.blocks, "probe verify read another uid's environ under runsc")
        XCTAssertTrue(AttackCatalogue.attack("A14")!.promise(IsolationContext(backend: .uid)).blocks, "Linux applies the ptrace check")
    }
}
