/// The tenant's environment: nothing of the launcher's but a fixed PATH, HOME, TMPDIR, PWD,
/// USER/LOGNAME, LANG and LC_*, plus what `--env` names (catalogue A26: the server's keys and
/// other tenants' tokens never reach a tenant by inheritance).
public enum TenantEnvironment {
    public static let path = "/usr/local/bin:/usr/bin:/bin"

    /// `--env NAME` copies NAME from `inherited` (absent: nothing set); `--env NAME=VALUE` sets
    /// it. Later entries win. Returns `NAME=VALUE` strings in a stable order.
    public static func build(tenant: TenantID, home: String, tmpdir: String, pwd: String, requested: [String],
                             inherited: [String: String]) throws -> [String] {
        var env: [(String, String)] = [("PATH", path), ("HOME", home), ("TMPDIR", tmpdir), ("PWD", pwd),
                                       ("USER", tenant.value), ("LOGNAME", tenant.value)]
        for (k, v) in inherited.sorted(by: { $0.key < $1.key }) where k == "LANG" || k.hasPrefix("LC_") { env.append((k, v)) }
        for item in requested {
            let name: String, value: String?
            if let eq = item.firstIndex(of: "=") {
                name = String(item[..<eq])
                value = String(item[item.index(after: eq)...])
            } else {
                name = item
                value = inherited[item]
            }
            guard !name.isEmpty, name.utf8.allSatisfy({ $0 == 0x5F || ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A) }),
                  !(name.utf8.first! >= 0x30 && name.utf8.first! <= 0x39) else {
                throw LaunchRefusal.usage("--env '\(item)': a variable name is letters, digits and '_', not starting with a digit")
            }
            env.removeAll { $0.0 == name }
            if let value { env.append((name, value)) }
        }
        return env.map { "\($0.0)=\($0.1)" }
    }
}
