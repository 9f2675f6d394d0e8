import XCTest
import Glibc
@testable import NamespaceProbe
import CNamespaceProbe

/// The runner's guarantees, with children that do exactly what each case needs.
final class ChildRunnerTests: XCTestCase {
    func testVerdictStepsAndFacts() {
        let out = ChildRunner.run([ProbeJob(id: "a") { w in
            w.step("first") { .ok("fine") }
            w.step("second") { .failed(.EPERM, "no") }
            w.fact("k", "v")
            w.verdict(.failed)
        }], timeoutMillis: 5000)["a"]!
        let r = ProbeResult(raw: out)
        XCTAssertEqual(r.verdict, .failed)
        XCTAssertEqual(r.failedStep, "second")
        XCTAssertEqual(r.errno, .EPERM)
        XCTAssertEqual(r.facts, ["k": "v"])
        XCTAssertEqual(r.steps.map(\.outcome), [.ok, .failed])
    }

    func testSignalIsReportedAgainstTheStepItHit() {
        let out = ChildRunner.run([ProbeJob(id: "k") { w in
            w.step("dies here") { raise(SIGSYS); return .ok() }
        }], timeoutMillis: 5000)["k"]!
        let r = ProbeResult(raw: out)
        XCTAssertEqual(r.verdict, .killed)
        XCTAssertEqual(r.signal, SIGSYS)
        XCTAssertEqual(r.failedStep, "dies here")
        let cause = Explain(environment: EnvironmentFacts.read(status: [:], cgroup: nil), capabilities: CapabilitySets.read(status: [:]), unshareSyscallBlocked: false, gvisor: false)
            .cause(probe: "k", result: r)
        XCTAssertTrue(cause?.hasPrefix("SIGSYS") == true, cause ?? "nil")
    }

    func testDeadlineKillsTheWholeProcessGroup() {
        var pipeFDs: [Int32] = [0, 0]
        XCTAssertEqual(pipe(&pipeFDs), 0)
        let start = Clock.nowMicros()
        let out = ChildRunner.run([ProbeJob(id: "slow") { w in
            // A grandchild that would outlive its parent without the group kill.
            if fork() == 0 { close(pipeFDs[0]); pause(); _exit(0) }
            w.step("hang") { pause(); return .ok() }
        }, ProbeJob(id: "quick") { w in w.verdict(.ok) }], timeoutMillis: 300)
        close(pipeFDs[1])
        XCTAssertLessThan(Clock.nowMicros() - start, 3_000_000)
        XCTAssertEqual(ProbeResult(raw: out["slow"]!).verdict, .timeout)
        XCTAssertEqual(ProbeResult(raw: out["slow"]!).failedStep, "hang")
        XCTAssertEqual(ProbeResult(raw: out["quick"]!).verdict, .ok, "one slow probe does not spoil the others")
        // All pipes exist before the first fork: a child that kept another's write end
        // would hold that pipe open, and quick would only end with slow, at the deadline.
        XCTAssertLessThan(out["quick"]!.durationMicros, 300_000, "quick ended when its own child did")
        // The grandchild held the write end: read() returns 0 only once it is dead.
        var byte: UInt8 = 0
        XCTAssertEqual(read(pipeFDs[0], &byte, 1), 0)
        close(pipeFDs[0])
    }

    func testATracedChildIsSeenStoppedThenLetGo() {
        let r = ProbeResult(raw: ChildRunner.run([ProbeJob(id: "t") { w in
            guard w.expectStop(), w.step("PTRACE_TRACEME", { .check(Int32(cnp_ptrace_traceme())) }) else { return w.verdict(.failed) }
            w.fact("answer", w.stopAndWait() ?? "none")
            // Detached: nobody traces this child any more, and it ran on to here.
            let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
            w.fact("tracer", status.split(separator: "\n").first { $0.hasPrefix("TracerPid:") }.map(String.init) ?? "?")
            w.verdict(.ok)
        }], timeoutMillis: 5000)["t"]!)
        XCTAssertEqual(r.verdict, .ok)
        XCTAssertEqual(r.facts["answer"], ChildRunner.detachedAnswer)
        XCTAssertEqual(r.facts["tracer"], "TracerPid: 0", "records turn the tab into a space")
    }

    /// Once traced, any signal stops the child for the tracer, even before its own
    /// SIGSTOP: the probe process already waits (told before PTRACE_TRACEME), hands the
    /// signal over, and still sees the SIGSTOP after it.
    func testASignalBeforeTheTracerStopIsHandedOver() {
        let r = ProbeResult(raw: ChildRunner.run([ProbeJob(id: "u") { w in
            signal(SIGUSR1) { _ in }
            guard w.expectStop(), cnp_ptrace_traceme() == 0 else { return w.verdict(.failed) }
            raise(SIGUSR1)  // stops the traced child before anything else
            w.fact("answer", w.stopAndWait() ?? "none")
            w.verdict(.ok)
        }], timeoutMillis: 3000)["u"]!)
        XCTAssertEqual(r.verdict, .ok)
        XCTAssertEqual(r.facts["answer"], ChildRunner.detachedAnswer)
    }

    /// PTRACE_TRACEME refused (here: skipped): the child stops anyway, since the probe
    /// process is waiting, and is continued with SIGCONT.
    func testAnUntracedStopIsContinued() {
        let r = ProbeResult(raw: ChildRunner.run([ProbeJob(id: "c") { w in
            guard w.expectStop() else { return w.verdict(.failed) }
            w.fact("answer", w.stopAndWait() ?? "none")
            w.verdict(.ok)
        }], timeoutMillis: 3000)["c"]!)
        XCTAssertEqual(r.verdict, .ok)
        XCTAssertEqual(r.facts["answer"], "stopped untraced, continued with SIGCONT")
    }

    func testAChildThatNeverStopsTimesOutWithoutHangingTheProbe() {
        let start = Clock.nowMicros()
        let r = ProbeResult(raw: ChildRunner.run([ProbeJob(id: "s") { w in
            _ = w.expectStop()
            w.step("announced a stop, never stops") { pause(); return .ok() }
        }], timeoutMillis: 300)["s"]!)
        XCTAssertLessThan(Clock.nowMicros() - start, 3_000_000)
        XCTAssertEqual(r.verdict, .timeout)
        XCTAssertEqual(r.failedStep, "announced a stop, never stops")
    }

    func testAChildThatEndsInsteadOfStoppingIsReapedOnce() {
        let r = ProbeResult(raw: ChildRunner.run([ProbeJob(id: "e") { w in
            let record = Array("T\te\n".utf8)
            _ = record.withUnsafeBytes { write(w.fd, $0.baseAddress, $0.count) }
            _exit(7)
        }], timeoutMillis: 5000)["e"]!)
        XCTAssertEqual(r.verdict, .failed)
        XCTAssertEqual(r.detail, "the probe child exited with status 7 without a verdict", "the exit seen while waiting for the stop is the one reported")
    }

    /// Outcomes are held back until the next announce; a grandchild must not inherit and
    /// write them a second time, and none may be lost at exit.
    func testHeldBackRecordsAreWrittenOnceAcrossForkAndExit() {
        let r = ProbeResult(raw: ChildRunner.run([ProbeJob(id: "f") { w in
            w.step("before the fork") { .ok() }
            w.fact("held", "back")
            _ = Subprocess.run { w.step("in the grandchild") { .ok() }; return 0 }
            w.step("after the fork") { .ok() }
            w.verdict(.ok)
        }], timeoutMillis: 5000)["f"]!)
        XCTAssertEqual(r.steps.map(\.name), ["before the fork", "in the grandchild", "after the fork"])
        XCTAssertEqual(r.facts, ["held": "back"])
        XCTAssertEqual(r.verdict, .ok, "the verdict written last, before exit, arrived")
    }

    func testChildWithoutVerdictHasFailed() {
        let r = ProbeResult(raw: ChildRunner.run([ProbeJob(id: "x") { _ in _exit(7) }], timeoutMillis: 5000)["x"]!)
        XCTAssertEqual(r.verdict, .failed)
        XCTAssertEqual(r.detail, "the probe child exited with status 7 without a verdict")
    }

    func testASignalInOneSectionDoesNotHideTheNextOnes() {
        let out = ChildRunner.run([ProbeJob(id: "job", sections: ["a", "b", "c"]) { w, skip in
            if !skip.contains("a") { w.into("a").fact("pid", String(getpid())); w.into("a").verdict(.ok) }
            if !skip.contains("b") { w.into("b").step("dies here") { raise(SIGSYS); return .ok() } }
            if !skip.contains("c") { w.into("c").fact("pid", String(getpid())); w.into("c").verdict(.ok) }
        }], timeoutMillis: 5000)
        XCTAssertEqual(ProbeResult(raw: out["a"]!).verdict, .ok)
        let b = ProbeResult(raw: out["b"]!)
        XCTAssertEqual(b.verdict, .killed)
        XCTAssertEqual(b.failedStep, "dies here")
        let c = ProbeResult(raw: out["c"]!)
        XCTAssertEqual(c.verdict, .ok, "a fresh child probed what the signal cut off")
        XCTAssertNotNil(c.facts["pid"])
        XCTAssertNotEqual(c.facts["pid"], ProbeResult(raw: out["a"]!).facts["pid"], "c comes from another child than a")
    }

    func testASignalInThePreambleEndsEverySection() {
        let out = ChildRunner.run([ProbeJob(id: "job", sections: ["pre", "x", "y"], preamble: "pre") { w, _ in
            w.into("pre").step("shared check") { raise(SIGSYS); return .ok() }
        }], timeoutMillis: 5000)
        for s in ["x", "y"] {
            let r = ProbeResult(raw: out[s]!)
            XCTAssertEqual(r.verdict, .killed, s)
            XCTAssertEqual(r.failedStep, "shared check", s)
        }
    }

    func testTheParentAnswersQuestions() {
        let out = ChildRunner.run([ProbeJob(id: "q") { w in
            let answer = w.ask("what is 6 times 7")
            w.step("got the answer") { answer == "42 from \(getppid())" ? .ok() : .failed(nil, answer ?? "nil") }
            w.verdict(.ok)
        }], timeoutMillis: 5000, answer: { q in q == "what is 6 times 7" ? "42 from \(getpid())" : "?" })
        let r = ProbeResult(raw: out["q"]!)
        XCTAssertEqual(r.steps.map(\.outcome), [.ok], r.steps.description)
    }

    func testSectionsNotReachedAtTheDeadlineTimeOut() {
        let out = ChildRunner.run([ProbeJob(id: "job", sections: ["slow", "after"]) { w, _ in
            w.into("slow").step("hang") { pause(); return .ok() }
        }], timeoutMillis: 200)
        XCTAssertEqual(ProbeResult(raw: out["slow"]!).failedStep, "hang")
        XCTAssertEqual(ProbeResult(raw: out["after"]!).verdict, .timeout)
    }

    func testAnAnswerToAChildThatDiedDoesNotKillTheProbe() {
        let out = ChildRunner.run([ProbeJob(id: "gone") { w in
            // Ask without waiting, then go: the answer meets a pipe with no reader (EPIPE).
            let question = Array("Q\tgone\tanyone there?\n".utf8)
            _ = question.withUnsafeBytes { write(w.fd, $0.baseAddress, $0.count) }
            close(w.replyFD)
            _exit(3)
        }], timeoutMillis: 5000, answer: { _ in "yes" })
        XCTAssertEqual(ProbeResult(raw: out["gone"]!).detail, "the probe child exited with status 3 without a verdict")
    }
}
