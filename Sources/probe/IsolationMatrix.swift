import NamespaceProbe
import IsolationSelector

/// `probe matrix matrix/verify/*.json`: saved `probe verify --all --json` runs (schema
/// verify/1), one per environment, merged into attack x environment tables.
enum IsolationMatrix {
    struct File { let name: String; let doc: JSON }

    /// The files when every one is a verify/1 document; nil when none is; an error when mixed.
    static func load(_ paths: [String]) throws -> [File]? {
        var files: [File] = []
        for path in paths {
            guard case .success(let text) = ProcFiles.read(path, limit: 16 << 20) else { return nil }
            guard let doc = try? JSON.parse(text), doc["schema"]?.string == VerifyOutput.schema else {
                if files.isEmpty { return nil }
                throw ProbeError("\(path) is not a probe verify --json file (schema \(VerifyOutput.schema)); do not mix it with probe reports")
            }
            var name = String(path.split(separator: "/").last ?? Substring(path))
            if name.hasSuffix(".json") { name.removeLast(5) }
            files.append(File(name: name, doc: doc))
        }
        return files
    }

    static let order: [(Backend, String)] = [(.namespaces, "ns"), (.namespacesSharedProc, "nsp"), (.landlock, "ll"), (.uid, "uid"), (.directories, "dir")]

    /// One letter per outcome: B blocked, L leaks where nothing is promised, X LEAKED against
    /// the promise, - not run, E the self-test could not run, R probe launch refuses the
    /// backend there, . backend not available there.
    static func letter(_ run: JSON?, _ id: String) -> String {
        guard let run else { return "." }
        if run["outcome"]?.string == "refused" { return "R" }
        if run["error"].map({ !$0.isNull }) ?? false { return "E" }
        guard let a = run["attacks"]?.array?.first(where: { $0["id"]?.string == id }) else { return "?" }
        switch (a["observed"]?.string, a["promise"]?.string) {
        case ("blocked", _): return "B"
        case ("LEAKED", "blocks"): return "X"
        case ("LEAKED", _): return "L"
        default: return "-"
        }
    }

    static func runs(_ f: File) -> [JSON] { f.doc["runs"]?.array ?? [] }
    static func run(_ f: File, _ b: Backend) -> JSON? { runs(f).first { $0["backend"]?.string == b.name } }

    static func markdown(_ files: [File]) -> String {
        let ids = AttackCatalogue.attacks.map(\.id)
        let selected = files.map { f in f.doc["selected_backend"]?.string.flatMap(Backend.init(rawValue:)) ?? .directories }
        var out = "Selected backend, per environment (B blocked, L leaks where nothing is promised, X LEAKED against the promise, - not run, E could not run, R probe launch refuses the backend there):\n\n"
        var rows: [[String]] = [["**selected backend**"] + selected.map { "**\($0.name)**" }]
        for id in ids {
            let attack = AttackCatalogue.attack(id)!
            rows.append(["\(id) \(attack.label)"] + zip(files, selected).map { letter(run($0, $1), id) })
        }
        rows.append(["promises broken"] + zip(files, selected).map { f, b in brokenCount(run(f, b)) })
        out += MatrixRenderer.markdownTable(["attack"] + files.map(\.name), rows)
        out += "\nEvery available backend, one letter each in the order " + order.map(\.1).joined(separator: " ") + " (. not available there):\n\n"
        rows = []
        for id in ids {
            let attack = AttackCatalogue.attack(id)!
            rows.append(["\(id) \(attack.label)"] + files.map { f in order.map { letter(run(f, $0.0), id) }.joined() })
        }
        rows.append(["promises broken"] + files.map { f in order.map { run(f, $0.0).map(brokenCount) ?? "." }.joined(separator: " ") })
        out += MatrixRenderer.markdownTable(["attack"] + files.map(\.name), rows)
        return out
    }

    static func brokenCount(_ run: JSON?) -> String {
        guard let run else { return "." }
        if run["outcome"]?.string == "refused" { return "R" }
        if run["error"].map({ !$0.isNull }) ?? false { return "E" }
        return String(run["failed_promises"]?.array?.count ?? 0)
    }

    static func json(_ files: [File]) -> JSON {
        .object([
            ("schema", .string("isolation-matrix/1")),
            ("environments", .array(files.map { f in
                .object([("name", .string(f.name)), ("selected_backend", f.doc["selected_backend"] ?? .null),
                         ("backends", .object(runs(f).compactMap { r in
                             guard let b = r["backend"]?.string else { return nil }
                             return (b, .object(AttackCatalogue.attacks.map { ($0.id, .string(letter(r, $0.id))) }))
                         }))])
            })),
        ])
    }
}
