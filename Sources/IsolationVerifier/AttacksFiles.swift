import Glibc
import NamespaceProbe

/// Files: A's workspace, git repository, HOME, TMPDIR, /tmp, and the server's credentials.
extension Battery {
    func files() -> [Observation] {
        [
            readCanary("A01", a.secretFile, c.file, canary: "file"),
            readCanary("A01.git", a.gitConfig, c.git, canary: "git"),
            listWorkspace(),
            listRoot(),
            createHook(),
            openForWriting(),
            throughSymlink(),
            hardLink(),
            readCanary("A08", c.tmpFile, c.tmp, canary: "tmp"),
            readCanary("A08.tmpdir", a.tmpdirFile, c.tmpdir, canary: "tmpdir"),
            readCanary("A08.home", a.homeFile, c.home, canary: "home"),
            readCanary("A11", b.serverCredentials, c.server, canary: "server"),
        ]
    }

    func listWorkspace() -> Observation {
        switch Sys.list(a.workspace) {
        case .failure(let e): return Observation("A02", .blocked, "opendir \(a.workspace): \(e.name)")
        case .success(let names):
            return names.contains("secret.txt") ? Observation("A02", .leaked, "listed \(names.count) entries of \(a.workspace), secret.txt among them")
                : Observation("A02", .blocked, "opened \(a.workspace) but secret.txt is not listed")
        }
    }

    func listRoot() -> Observation {
        switch Sys.list(b.root) {
        case .failure(let e): return Observation("A02.root", .blocked, "opendir \(b.root): \(e.name)")
        case .success(let names):
            return names.contains(b.tenantA) ? Observation("A02.root", .leaked, "listed \(b.root): tenant '\(b.tenantA)' among \(names.count) entries")
                : Observation("A02.root", .blocked, "listed \(b.root): \(names.count) entries, '\(b.tenantA)' not among them")
        }
    }

    func createHook() -> Observation {
        let hook = a.workspace + "/.git/hooks/post-checkout"
        let fd = open(hook, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o755)
        if fd < 0 { return Observation("A03", .blocked, "create \(hook): \(Errno.current.name)") }
        close(fd)
        unlink(hook)
        return Observation("A03", .leaked, "created \(hook) (removed again)")
    }

    func openForWriting() -> Observation {
        let fd = open(a.secretFile, O_WRONLY | O_APPEND | O_CLOEXEC)
        if fd < 0 { return Observation("A03.file", .blocked, "open \(a.secretFile) for writing: \(Errno.current.name)") }
        close(fd)
        return Observation("A03.file", .leaked, "opened \(a.secretFile) for writing (nothing written)")
    }

    func throughSymlink() -> Observation {
        let link = "npv-link-to-a"
        unlink(link)
        guard symlink(a.secretFile, link) == 0 else { return Observation("A05", .notRun, "symlink in B's own workspace: \(Errno.current.name)") }
        defer { unlink(link) }
        var o = readCanary("A05", link, c.file, canary: "file")
        o.evidence = "through ./\(link): " + o.evidence
        return o
    }

    func hardLink() -> Observation {
        let target = "npv-hardlink-to-a"
        unlink(target)
        if link(a.secretFile, target) != 0 { return Observation("A06", .blocked, "link \(a.secretFile): \(Errno.current.name)") }
        unlink(target)
        return Observation("A06", .leaked, "hard-linked \(a.secretFile) into B's workspace (removed again)")
    }

    // MARK: IPC

    func posixShm() -> Observation {
        if let f = a.failure("shm") { return Observation("A09", .notRun, "A could not plant it (\(f))") }
        let fd = shm_open(c.shmName, O_RDONLY, 0)
        if fd < 0 { return Observation("A09", .blocked, "shm_open(\(c.shmName)): \(Errno.current.name)") }
        defer { close(fd) }
        let text = Sys.readUpTo(fd, 4096).get(or: "")
        return text.contains(c.shm) ? Observation("A09", .leaked, "read \(c.shmName): '\(shown(c.shm))'")
            : Observation("A09", .blocked, "opened \(c.shmName) but the canary was not in it")
    }

    func sysvShm() -> Observation {
        if let f = a.failure("sysv") { return Observation("A09.sysv", .notRun, "A could not plant it (\(f))") }
        var id = a.sysvId
        var how = "id \(id)"
        let byKey = shmget(c.sysvKey, 0, 0)
        if byKey >= 0 { id = byKey; how = "key 0x\(String(UInt32(bitPattern: c.sysvKey), radix: 16))" }
        guard let p = shmat(id, nil, SHM_RDONLY), p != UnsafeMutableRawPointer(bitPattern: -1) else {
            return Observation("A09.sysv", .blocked, "shmat(\(how)): \(Errno.current.name)")
        }
        defer { shmdt(p) }
        let text = String(decoding: UnsafeRawBufferPointer(start: p, count: c.sysv.utf8.count), as: UTF8.self)
        return text == c.sysv ? Observation("A09.sysv", .leaked, "attached \(how): '\(shown(c.sysv))'")
            : Observation("A09.sysv", .blocked, "attached \(how) but the canary was not in it")
    }
}
