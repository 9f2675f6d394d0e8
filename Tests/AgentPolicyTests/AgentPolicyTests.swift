import XCTest
import AgentPolicy
import IsolationLauncher
import IsolationSelector
import NamespaceProbe

final class AgentPolicyTests: XCTestCase {
    func policy(_ backend: Backend, tenant: String = "t-7f3a9c", root: String = "/workspaces", protect: [String] = []) throws -> ClaudeCodePolicy {
        try ClaudeCodePolicy(tenant: TenantID(tenant), backend: backend, workspaceRoot: AbsolutePath(root),
                             protectedPaths: protect.map(AbsolutePath.init))
    }

    func testTenantIDsFollowTheLaunchersAlphabet() {
        for good in ["a", "0", "t-7f3a9c", "abc_def", String(repeating: "z", count: 63), "9-"] {
            XCTAssertNoThrow(try TenantID(good), good)
        }
        for bad in ["", "-a", "_a", "A", "a.b", "a/b", "..", "a b", "é", String(repeating: "z", count: 64), "a\n"] {
            XCTAssertThrowsError(try TenantID(bad), bad)
        }
    }

    func testPathsThatWouldChangeARuleAreRefused() {
        for bad in ["relative", "/a/../b", "/a//b", "/a/", "/a/./b", "/w*", "/w?", "/w[1]", "/w!", "/a(b)", "/a,b", "/a b", "~/x", "/$HOME"] {
            XCTAssertThrowsError(try AbsolutePath(bad), bad)
        }
        XCTAssertEqual(try AbsolutePath("/workspaces").subtreePattern, "//workspaces/**")
        XCTAssertEqual(try AbsolutePath("/").subtreePattern, "//**")
    }

    /// The seed document's rules (shared/seed, "Solution 1"): each one is wrong in the grammar.
    func testTheSeedsRulesAreAllFlagged() {
        let seed = ["Write(/workspaces/abc/*)", "Read(/workspaces/*)!/workspaces/abc", "Bash(ls:/workspaces)",
                    "Bash(cat:/workspaces/*)", "Read(/proc/*)!(/proc/self/*)", "Edit(/workspaces/abc/*)"]
        for rule in seed {
            XCTAssertFalse(PermissionRule.problems(rule).isEmpty, rule)
        }
        XCTAssertTrue(PermissionRule.problems("Bash(git:*)").isEmpty, "a trailing :* is valid (same as ' *')")
        XCTAssertTrue(PermissionRule.problems("Bash(dangerouslyDisableSandbox:true)").isEmpty)
    }

    func testEveryGeneratedRuleFollowsTheGrammar() throws {
        for backend in Backend.allCases {
            let p = try policy(backend, protect: ["/var/lib/agent-server", "/run/secrets"])
            for rule in p.allow + p.ask + p.deny {
                XCTAssertEqual(PermissionRule.problems(rule.description), [], "\(backend.name): \(rule)")
                XCTAssertFalse(PermissionRule.ignoredPathTools.contains(rule.tool), "\(rule)")
            }
            XCTAssertEqual(p.allow.prefix(2).map(\.description), ["Read(//workspaces/t-7f3a9c/**)", "Edit(//workspaces/t-7f3a9c/**)"])
            XCTAssertTrue(p.deny.map(\.description).contains("Read(//var/lib/agent-server/**)"))
            XCTAssertEqual(p.settings["permissions"]?["defaultMode"]?.string, "dontAsk")
            XCTAssertEqual(p.settings["disableAllHooks"]?.bool, true)
            XCTAssertEqual(p.settings["enableAllProjectMcpServers"]?.bool, false)
            // Deny wins over allow: nothing is both allowed and denied.
            XCTAssertTrue(Set(p.allow.map(\.description)).isDisjoint(with: p.deny.map(\.description)), backend.name)
        }
    }

    func testTheRulesNeverNameAnotherTenant() throws {
        let text = try policy(.directories).settings.serialized()
        XCTAssertFalse(text.contains("//workspaces/**"), "a rule over the whole root would either open or close every tenant")
        XCTAssertEqual(text.components(separatedBy: "//workspaces/").count - 1, 2, "only the tenant's own Read and Edit rules")
    }

    func testDirectoriesDeniesCodeRunnersAndSaysWhatItCannotStop() throws {
        let dirs = try policy(.directories)
        let denied = Set(dirs.deny.map(\.description))
        for cmd in ["git", "python3", "node", "bash", "npm", "make", "ps", "env", "curl"] {
            XCTAssertTrue(denied.contains("Bash(\(cmd) *)"), cmd)
        }
        XCTAssertFalse(dirs.allow.contains { $0.tool == "Bash" }, "no code runner is allowed without a kernel backend")
        XCTAssertTrue(dirs.warnings[0].contains("reads and writes whatever the server's uid can read"))
        for backend in Backend.allCases where backend != .directories {
            let p = try policy(backend)
            XCTAssertFalse(p.warnings.joined().contains("no kernel isolation"), backend.name)
            XCTAssertTrue(p.allow.contains(.bash(prefix: "git")), "the kernel confines what git runs under \(backend.name)")
        }
        XCTAssertFalse(try policy(.namespaces).deny.contains(.bash(prefix: "ps")), "a private /proc: nothing to hide")
        XCTAssertTrue(try policy(.uid).deny.contains(.bash(prefix: "ps")))
    }

    func testFlagsCarryTheFileTheModeAndNoSettingSources() throws {
        let p = try policy(.landlock)
        let flags = p.flags(settingsFile: "/var/lib/agent-server/policy/t/settings.json")
        func value(_ flag: String) -> String? { flags.firstIndex(of: flag).map { flags[$0 + 1] } }
        XCTAssertEqual(value("--settings"), "/var/lib/agent-server/policy/t/settings.json")
        XCTAssertEqual(value("--permission-mode"), "dontAsk")
        XCTAssertEqual(value("--setting-sources"), "", "HOME is tenant-written: load no user settings")
        XCTAssertTrue(flags.contains("--strict-mcp-config"))
        XCTAssertEqual(value("--disallowedTools")?.split(separator: ",").map(String.init), p.deny.map(\.description))
        XCTAssertEqual(flags.last, "dontAsk", "no variadic flag last: nothing after it is swallowed")
    }

    func testTheManagedDeniesAreInEveryTenantsFileToo() throws {
        let protect = [try AbsolutePath("/var/lib/agent-server")]
        let managed = try ManagedPolicy.deny(protectedPaths: protect)
        for rule in managed { XCTAssertEqual(PermissionRule.problems(rule.description), [], "\(rule)") }
        for backend in Backend.allCases {
            let p = try policy(backend, protect: ["/var/lib/agent-server"])
            XCTAssertTrue(managed.allSatisfy(p.deny.contains), "\(backend.name): the tenant file holds without the managed one")
        }
        let settings = try ManagedPolicy.settings(protectedPaths: protect)
        XCTAssertEqual(settings["allowManagedHooksOnly"]?.bool, true)
        XCTAssertEqual(settings["requiredMinimumVersion"]?.string, "2.1.228")
    }

    func testAProtectedPathHoldingTheWorkspaceIsRefused() {
        XCTAssertThrowsError(try policy(.uid, protect: ["/workspaces"]))
        XCTAssertThrowsError(try policy(.uid, protect: ["/"]))
        XCTAssertNoThrow(try policy(.uid, protect: ["/workspaces-state"]))
    }
}
