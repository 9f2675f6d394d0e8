import Glibc
import NamespaceProbe

/// What tenant A holds and tenant B looks for. The verifier makes the tokens; A plants them
/// and answers with where they are (`Planted`); B is told the values only as what to search
/// for (on its stdin, never in its argv or environment, so its own /proc entries hold none).
public struct Canaries: Equatable {
    /// Short run id: names in /tmp, /dev/shm and process names carry it, so concurrent runs
    /// never collide and leftovers are recognisable.
    public var run: String
    public var file: String, git: String, home: String, tmpdir: String, tmp: String
    public var env: String, argv: String, tcp: String, abstract: String, pathname: String
    public var shm: String, sysv: String
    /// The server's own secrets: a 0600 credentials file beside the workspaces and an
    /// environment variable of the process that launches B.
    public var server: String, serverEnv: String

    /// Environment variable that carries A's secret (passed with `probe launch --env NAME`).
    public static let envName = "NPV_TENANT_SECRET"
    /// Environment variable of the launcher of B that B must not see.
    public static let serverEnvName = "NPV_SERVER_SECRET"

    public static func fresh() -> Canaries {
        let run = Token.hex(3)
        func t(_ what: String) -> String { "npv-\(run)-\(what)-\(Token.hex(8))" }
        return Canaries(run: run, file: t("file"), git: t("git"), home: t("home"), tmpdir: t("tmpdir"), tmp: t("tmp"),
                        env: t("env"), argv: t("argv"), tcp: t("tcp"), abstract: t("abstract"), pathname: t("pathname"),
                        shm: t("shm"), sysv: t("sysv"), server: t("server"), serverEnv: t("serverenv"))
    }

    /// Process name of tenant A (PR_SET_NAME, 15 bytes at most) and of B's would-be daemon.
    public var processNameA: String { "npv-a-\(run)" }
    public var processNameDaemon: String { "npv-d-\(run)" }
    public var tmpFile: String { "/tmp/npv-\(run)-a.txt" }
    public var socketPath: String { "/tmp/npv-\(run)-a.sock" }
    public var abstractName: String { "npv-\(run)-a" }
    public var shmName: String { "/npv-\(run)-a" }
    /// SysV key: fixed per run so B can try the key as well as the id.
    public var sysvKey: Int32 { Int32(bitPattern: 0x4E50_0000 | (UInt32(run, radix: 16) ?? 0)) }

    static let keys = ["run", "file", "git", "home", "tmpdir", "tmp", "env", "argv", "tcp", "abstract", "pathname", "shm", "sysv", "server", "server_env"]
    var values: [String] { [run, file, git, home, tmpdir, tmp, env, argv, tcp, abstract, pathname, shm, sysv, server, serverEnv] }

    public var json: JSON { .object(zip(Canaries.keys, values).map { ($0, .string($1)) }) }

    public init(json: JSON) throws {
        let v = try Canaries.keys.map { k -> String in
            guard let s = json[k]?.string else { throw ProbeError("canaries: missing \(k)") }
            return s
        }
        self.init(run: v[0], file: v[1], git: v[2], home: v[3], tmpdir: v[4], tmp: v[5], env: v[6], argv: v[7], tcp: v[8],
                  abstract: v[9], pathname: v[10], shm: v[11], sysv: v[12], server: v[13], serverEnv: v[14])
    }

    init(run: String, file: String, git: String, home: String, tmpdir: String, tmp: String, env: String, argv: String,
         tcp: String, abstract: String, pathname: String, shm: String, sysv: String, server: String, serverEnv: String) {
        (self.run, self.file, self.git, self.home, self.tmpdir, self.tmp) = (run, file, git, home, tmpdir, tmp)
        (self.env, self.argv, self.tcp, self.abstract, self.pathname) = (env, argv, tcp, abstract, pathname)
        (self.shm, self.sysv, self.server, self.serverEnv) = (shm, sysv, server, serverEnv)
    }
}

/// Random hex from /dev/urandom (in every launch's minimal /dev).
public enum Token {
    public static func hex(_ bytes: Int) -> String {
        var buf = [UInt8](repeating: 0, count: bytes)
        let fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC)
        let n = fd < 0 ? -1 : buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, bytes) }
        if fd >= 0 { close(fd) }
        if n != bytes {
            // No /dev/urandom: time and pid are unique enough
            // for names; the tokens only need to be unguessable by accident, not by an attacker.
            var t = timespec(); clock_gettime(CLOCK_MONOTONIC, &t)
            var x = UInt64(t.tv_nsec) ^ (UInt64(getpid()) << 32) ^ UInt64(t.tv_sec)
            for i in 0..<bytes { buf[i] = UInt8(truncatingIfNeeded: x); x = x &* 6364136223846793005 &+ 1442695040888963407 }
        }
        let digits = Array("0123456789abcdef")
        return String(buf.flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 15)]] })
    }
}

/// Where A put each canary, as A reports it once everything is planted.
public struct Planted: Equatable {
    public var pid: Int32
    public var uid: UInt32
    public var workspace: String
    public var home: String
    public var tmpdir: String
    public var port: Int
    public var sysvId: Int32
    /// Canaries A could not plant, with the errno: `{"tmp": "EACCES"}`. Attacks on them are
    /// not run (A could not create them either, so there is nothing to leak).
    public var failures: [(String, String)]

    public static func == (a: Planted, b: Planted) -> Bool { a.json == b.json }

    public var secretFile: String { workspace + "/secret.txt" }
    public var gitConfig: String { workspace + "/.git/config" }
    public var homeFile: String { home + "/.agent-token" }
    public var tmpdirFile: String { tmpdir + "/npv-scratch.txt" }

    public func failure(_ canary: String) -> String? { failures.first { $0.0 == canary }?.1 }

    public var json: JSON {
        .object([("pid", .int(Int64(pid))), ("uid", .int(Int64(uid))), ("workspace", .string(workspace)), ("home", .string(home)),
                 ("tmpdir", .string(tmpdir)), ("port", .int(Int64(port))), ("sysv_id", .int(Int64(sysvId))),
                 ("failures", .object(failures.map { ($0, .string($1)) }))])
    }

    public init(json: JSON) throws {
        guard let pid = json["pid"]?.int, let uid = json["uid"]?.int, let ws = json["workspace"]?.string,
              let home = json["home"]?.string, let tmpdir = json["tmpdir"]?.string, let port = json["port"]?.int,
              let sysv = json["sysv_id"]?.int, case .object(let f)? = json["failures"] else {
            throw ProbeError("tenant A's report is incomplete: \(json.serialized(pretty: false))")
        }
        self.init(pid: Int32(pid), uid: UInt32(uid), workspace: ws, home: home, tmpdir: tmpdir, port: Int(port),
                  sysvId: Int32(sysv), failures: f.map { ($0, $1.string ?? "?") })
    }

    public init(pid: Int32, uid: UInt32, workspace: String, home: String, tmpdir: String, port: Int, sysvId: Int32, failures: [(String, String)]) {
        (self.pid, self.uid, self.workspace, self.home, self.tmpdir, self.port, self.sysvId, self.failures) = (pid, uid, workspace, home, tmpdir, port, sysvId, failures)
    }
}
