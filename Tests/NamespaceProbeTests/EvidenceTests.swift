import XCTest
import Glibc
@testable import NamespaceProbe
import CNamespaceProbe

/// The proofs that need a control or a witness (issue 13): they must say "not new" where
/// nothing changed, and leave nothing behind.
final class EvidenceTests: XCTestCase {
    private func context() -> ProbeContext {
        var ctx = ProbeContext(uid: getuid(), gid: getgid(), probePid: getpid(), scratch: "/nonexistent")
        ctx.witness = OutsideWitness.open()
        return ctx
    }

    func testActingProofsFailInTheWitnessOwnNamespaces() {
        let ctx = context()
        defer { ctx.witness.close() }
        XCTAssertFalse(NamespaceAction.probeSocketUnreachable(ctx).isOK)
        XCTAssertFalse(NamespaceAction.probeQueueInvisible(ctx).isOK)
    }

    func testActingProofsHoldInNewNamespaces() {
        let ctx = context()
        defer { ctx.witness.close() }
        // Root enters net and ipc namespaces directly; anyone else through a user namespace.
        let flags = NamespaceKind.net.cloneFlag | NamespaceKind.ipc.cloneFlag | (getuid() == 0 ? 0 : NamespaceKind.user.cloneFlag)
        let out = ChildRunner.run([ProbeJob(id: "acting") { w in
            guard w.step("unshare", { .check(cnp_unshare(flags)) }) else { return w.verdict(.failed) }
            let a = w.step("socket") { NamespaceAction.probeSocketUnreachable(ctx) }
            let b = w.step("queue") { NamespaceAction.probeQueueInvisible(ctx) }
            w.verdict(a && b ? .ok : .failed)
        }], timeoutMillis: 5000)["acting"]!
        let r = ProbeResult(raw: out)
        XCTAssertEqual(r.verdict, .ok, "\(r.steps)")
        XCTAssertEqual(r.steps.map(\.outcome), [.ok, .ok, .ok])
    }

    func testCloseLeavesNothingBehind() throws {
        let ctx = context()
        let queue = try ctx.witness.messageQueue.get(), name = try ctx.witness.socket.get()
        ctx.witness.close()
        var ds = msqid_ds()
        XCTAssertEqual(msgctl(queue, IPC_STAT, &ds), -1)
        XCTAssertEqual(cnp_abstract_connect(name), -1)
        XCTAssertEqual(Errno.current, .ECONNREFUSED)
    }

    func testLinkControl() {
        var ctx = ProbeContext(uid: 0, gid: 0, probePid: 1, scratch: "/x")
        XCTAssertEqual(LinkControl.check(.net, here: .success(7), ctx), .uncontrolled)
        ctx.witness = OutsideWitness(links: [.net: .success(110), .user: .failure(.ENOENT)], socket: .failure(.ENOENT), socketFD: -1, messageQueue: .failure(.ENOENT))
        XCTAssertEqual(LinkControl.check(.net, here: .success(110), ctx), .evidence(110))
        // gVisor 20221219: the same namespace, another number in every process.
        XCTAssertEqual(LinkControl.check(.net, here: .success(157), ctx), .noEvidence(outside: 110, here: 157))
        XCTAssertEqual(LinkControl.check(.user, here: .success(3), ctx), .unreadable(.ENOENT))
        XCTAssertEqual(LinkControl.noEvidence(outside: 110, here: 157).why(.net),
                       "the link is no evidence here: in the same net namespace the probe process reads inode 110 and this process 157")
    }

    func testRootCheck() {
        let own = "65 64 254:0 / / rw - ext4 /dev/vda rw\n67 65 0:21 / /proc rw - proc proc rw\n"
        let pid1Chroot = "43 42 254:0 / / rw - ext4 /dev/vda rw\n64 43 0:30 / /mnt rw - tmpfs t rw\n65 64 254:0 / /mnt/root rw - ext4 /dev/vda rw\n"
        XCTAssertEqual(RootCheck.decide(own: .success(own), pid1: .success(pid1Chroot)),
                       RootCheck(chrooted: true, evidence: "this process's root is mount 65, which PID 1 sees at /mnt/root"))
        XCTAssertEqual(RootCheck.decide(own: .success(own), pid1: .success(own)).chrooted, false)
        XCTAssertNil(RootCheck.decide(own: .success(own), pid1: .success("1 0 0:1 / / rw - ext4 x rw\n")).chrooted)
        XCTAssertNil(RootCheck.decide(own: .success(own), pid1: .failure(.EACCES)).chrooted)
        XCTAssertNil(RootCheck.decide(own: .success(own), pid1: nil).chrooted)
        // chroot into a plain directory: no mount is at /.
        XCTAssertEqual(RootCheck.decide(own: .success("67 65 0:21 / /proc rw - proc proc rw\n"), pid1: nil).chrooted, true)
    }

    /// No LSM is loaded on the machines that run the suite: these causes are checked on
    /// facts as an Ubuntu 23.10+ host and a Docker container under AppArmor report them.
    func testLSMCausesFromEvidence() {
        var env = EnvironmentFacts.read(status: [:], cgroup: nil)
        env.lsmLabel = "docker-default (enforce)"
        env.sysctls["kernel.apparmor_restrict_unprivileged_userns"] = "1"
        let explain = Explain(environment: env, capabilities: CapabilitySets.read(status: [:]), unshareSyscallBlocked: false, gvisor: false)
        XCTAssertEqual(explain.stepCause(probe: "ns.user", step: "write /proc/self/uid_map", errno: .EACCES, detail: nil),
                       "EACCES writing /proc/self/uid_map after unshare(CLONE_NEWUSER) succeeded: AppArmor's kernel.apparmor_restrict_unprivileged_userns=1 (Ubuntu 23.10 and later) lets the namespace be created and refuses what follows (this process's LSM label: docker-default (enforce)); give the server an AppArmor profile that allows userns, or set the sysctl to 0, else no rootless namespace backend")
        let rootless = ProbeResult(verdict: .failed, steps: [
            Step(name: "unshare(CLONE_NEWUSER)", outcome: .ok), Step(name: "write /proc/self/uid_map", outcome: .ok),
            Step(name: "unshare(CLONE_NEWNS)", outcome: .ok), Step(name: "mount tmpfs on scratch dir", outcome: .failed, errno: .EPERM),
        ], failedStep: "mount tmpfs on scratch dir", errno: .EPERM)
        XCTAssertEqual(explain.cause(probe: "ns.mnt", result: rootless),
                       "EPERM at mount tmpfs on scratch dir after unshare(CLONE_NEWUSER) succeeded, with kernel.apparmor_restrict_unprivileged_userns=1 (Ubuntu 23.10 and later): AppArmor lets the namespace be created and takes its capabilities away (this process's LSM label: docker-default (enforce)); give the server an AppArmor profile that allows userns, or set the sysctl to 0, else no rootless namespace backend")
        XCTAssertEqual(explain.stepCause(probe: "ns.mnt", step: "mount tmpfs on scratch dir", errno: .EACCES, detail: nil),
                       "EACCES at a mount step that CAP_SYS_ADMIN allows: an LSM refuses mounts (this process's LSM label: docker-default (enforce)), as Docker's AppArmor profile docker-default refuses every mount; run with a profile that allows mount for a namespace backend, else only landlock, uid or directories")
    }

    /// CAP_SYS_ADMIN held, no seccomp filter: only an LSM is left to refuse a namespace.
    func testEPERMWithAdminAndNoFilterIsAnLSM() {
        var env = EnvironmentFacts.read(status: [:], cgroup: nil)
        env.seccompMode = 0
        env.lsmLabel = "system_u:system_r:container_t:s0"
        let caps = CapabilitySets(effective: 1 << 21, permitted: 1 << 21, inheritable: 0, bounding: 1 << 21, ambient: 0, lastCap: 40)
        let explain = Explain(environment: env, capabilities: caps, unshareSyscallBlocked: false, gvisor: false)
        let r = ProbeResult(verdict: .failed, steps: [Step(name: "unshare(0)", outcome: .ok), Step(name: "unshare(CLONE_NEWNET)", outcome: .failed, errno: .EPERM)],
                            failedStep: "unshare(CLONE_NEWNET)", errno: .EPERM)
        XCTAssertEqual(explain.cause(probe: "ns.net", result: r),
                       "EPERM with CAP_SYS_ADMIN held and no seccomp filter (Seccomp: 0): an LSM denies this namespace (this process's LSM label: system_u:system_r:container_t:s0); the namespace backends need this namespace, so they cannot run in this mode")
    }
}
