import XCTest
@testable import NamespaceProbe

final class ParserTests: XCTestCase {
    func testByteSearchAndSplitting() {
        XCTAssertTrue(Parsers.has("flags : fpu hypervisor", " hypervisor"))
        XCTAssertTrue(Parsers.has("abc", "c"), "a match at the very end")
        XCTAssertTrue(Parsers.has("abc", ""))
        XCTAssertFalse(Parsers.has("ab", "abc"))
        XCTAssertFalse(Parsers.has("aab", "abb"))
        XCTAssertEqual(Parsers.lines("a\n\nb\n").map(String.init), ["a", "b"])
        XCTAssertEqual(Parsers.fields("0::/x:y", UInt8(ascii: ":"), maxSplits: 2, omittingEmpty: false).map(String.init), ["0", "", "/x:y"])
        XCTAssertEqual(Substring(" \tlo \n").trimmingWhitespace(), "lo")
    }

    func testNamespaceLinkInode() {
        XCTAssertEqual(Parsers.namespaceLinkInode("net:[4026531833]"), 4026531833)
        XCTAssertEqual(Parsers.namespaceLinkInode(fixture("gvisor/ns_net").trimmingCharacters(in: .whitespacesAndNewlines)), 110)
        XCTAssertNil(Parsers.namespaceLinkInode("net:4026531833"))
        XCTAssertNil(Parsers.namespaceLinkInode("net:[abc]"))
    }

    func testStatusFieldsAndCapabilityMasks() {
        let host = Parsers.statusFields(fixture("host/status"))
        XCTAssertEqual(host["Seccomp"], "0")
        XCTAssertEqual(host["NoNewPrivs"], "0")
        XCTAssertEqual(Parsers.capabilityMask(host["CapBnd"]!), 0x1fffeffffff)
        let gvisor = Parsers.statusFields(fixture("gvisor/status"))
        XCTAssertEqual(Parsers.capabilityMask(gvisor["CapEff"]!), 0x3fffffdfff)
        XCTAssertNil(gvisor["NoNewPrivs"], "gVisor's status has no NoNewPrivs line")
        let caps = CapabilitySets(effective: 0x3fffffdfff, permitted: 0, inheritable: 0, bounding: 0, ambient: 0, lastCap: 40)
        XCTAssertTrue(caps.hasEffective(CapabilitySets.sysAdmin))
        XCTAssertFalse(caps.names(caps.effective).contains("CAP_NET_RAW"), "bit 13 (CAP_NET_RAW) is clear in gVisor's mask")
        XCTAssertEqual(caps.names(1 << 21), ["CAP_SYS_ADMIN"])
        XCTAssertEqual(CapabilitySets(effective: 0, permitted: 0, inheritable: 0, bounding: 0, ambient: 0, lastCap: 45).names(1 << 45), ["cap_45"])
    }

    /// Both ways of reading the bounding and ambient sets, on this machine: from
    /// /proc/self/status, and bit by bit with prctl (the way used under gVisor).
    func testCapabilitySetsFromStatusMatchPrctl() {
        guard case .success(let text) = ProcFiles.read("/proc/self/status") else { return XCTFail("cannot read /proc/self/status") }
        let status = Parsers.statusFields(text)
        XCTAssertNotNil(status["CapBnd"], "this kernel's status has CapBnd, so the first read below takes the status path")
        XCTAssertEqual(CapabilitySets.read(status: status), CapabilitySets.read(status: [:]))
    }

    func testMountinfo() {
        let gvisor = fixture("gvisor/mountinfo")
        XCTAssertEqual(Parsers.rootMountID(.success(gvisor)), 10)
        XCTAssertEqual(Parsers.mountPoints(.success(gvisor)), ["/", "/sys", "/dev", "/proc", "/dev/pts"])
        let host = fixture("host/mountinfo")
        XCTAssertNotNil(Parsers.rootMountID(.success(host)))
        XCTAssertTrue(Parsers.mountPoints(.success(host)).contains("/proc"))
        XCTAssertEqual(Parsers.mountPoints(.success("36 35 0:1 / /a\\040b rw - tmpfs x rw\n")), ["/a b"])
        XCTAssertEqual(Parsers.rootMountID(.success("1 1 0:1 / / rw - ext4 a rw\n9 1 0:2 / / rw - tmpfs b rw\n")), 9, "the last mount on / is the visible one")
        XCTAssertNil(Parsers.rootMountID(.failure(.ENOENT)))
    }

    func testCgroup() {
        XCTAssertEqual(Parsers.cgroupVersion(fixture("host/cgroup")), "hybrid")
        XCTAssertEqual(Parsers.cgroupVersion("0::/user.slice\n"), "v2")
        XCTAssertEqual(Parsers.cgroupVersion("4:memory:/docker/abc\n"), "v1")
        XCTAssertEqual(Parsers.cgroupVersion(fixture("gvisor/cgroup")), "unknown", "gVisor's /proc/self/cgroup is empty")
        XCTAssertEqual(Parsers.cgroupPaths("0::/\n1:cpu:/a:b\n"), ["/", "/a:b"])
    }

    func testNetDev() {
        XCTAssertEqual(Parsers.netDevInterfaces(fixture("gvisor/net_dev")), ["lo"])
        XCTAssertTrue(Parsers.netDevInterfaces(fixture("host/net_dev")).contains("lo"))
    }

    func testSysctlAbsenceIsAFact() {
        let sysctls: [String: String?] = ["user.max_user_namespaces": "0", "kernel.yama.ptrace_scope": nil]
        let env = EnvironmentFacts(kernelRelease: "", kernelVersion: "", machine: "", procVersion: nil, uid: 0, euid: 0, gid: 0,
                                   pid: 2, cgroupVersion: "v2", lsmLabel: nil, seccompMode: nil, seccompFilters: nil,
                                   noNewPrivs: nil, sysctls: sysctls)
        XCTAssertEqual(env.sysctl("user.max_user_namespaces"), "0")
        XCTAssertNil(env.sysctl("kernel.yama.ptrace_scope"))
    }
}
