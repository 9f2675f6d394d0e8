"""examples/server over real HTTP: uvicorn on 127.0.0.1, httpx as the client, the real
`probe launch` underneath and a stand-in agent that runs its prompt as a shell command (what a
prompt-injected agent does).

Tenant B's attacks on tenant A are judged row by row against the attack catalogue
(shared/ISOLATION-NOTES.md): where a backend stops a row, B must not get A's data; where the
catalogue says a backend leaves a row open, the leak must be there, so the README's claims and
these tests cannot drift apart.
"""
import json
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import agent_server as srv  # noqa: E402
import environments as envs  # noqa: E402

BACKENDS = ["namespaces", "namespaces-shared-proc", "landlock", "uid", "directories"]
KERNEL_BACKENDS = BACKENDS[:4]


@pytest.fixture(scope="module")
def probe():
    return envs.probe_binary()


@pytest.fixture(scope="module")
def available(probe):
    """Backends the probe observed to work here: {name: available}."""
    out = subprocess.run([probe, "--json"], capture_output=True, text=True, timeout=60, check=True).stdout
    return {c["backend"]: c["available"] for c in json.loads(out)["selection"]["candidates"]}


@pytest.fixture(scope="module")
def isolation(probe):
    return srv.isolation_env(probe)


@pytest.fixture
def server_factory(probe, isolation):
    started = []

    def start(backend, **kw):
        s = srv.Server(probe, backend, kw.pop("isolation", isolation), **kw)
        started.append(s)
        return s
    yield start
    for s in started:
        s.stop()


def leaks(o):
    """What B obtained of A's, per catalogue row: True = B got it."""
    r = {name: srv.text(reply) for name, reply in o["replies"].items()}
    return {
        "A01 cat A's canary by path": o["canary"] in r["cat_secret"],
        "A01 find / locates A's file": f"{o['a']}/secret.txt" in r["find"],
        "A01 git log of A's repository": o["commit"] in r["git_log"],
        "A02 ls of the root shows A's id": o["a"] in r["ls_root"],
        "A11 the server's HMAC key": o["key"] in r["server_key"],
        "A12/A13 A's process and command line in ps": o["marker"] in r["ps"],
        "A14 A's credential from /proc/*/environ": o["tok_a"] in r["environ"],
        # Only replies to prompts that do not name A's id (an error message echoes its path).
        "A02/A13 A's tenant id anywhere in B's output": any(o["a"] in text for name, text in r.items()
                                                           if o["a"] not in o["prompts"][name]),
    }


def expected_leaks(backend, o):
    """The catalogue's cells for each row (ISOLATION-NOTES.md), with the layering notes:
    /proc rows under namespaces-shared-proc close when a per-tenant uid or Landlock layer is
    applied; under landlock the process rows stay open only while /proc is readable."""
    layers = o["replies"]["environ"]["agent"]["layers"]
    proc_readable = o["a_process_seen_by_harness"] and any(
        line.strip().isdigit() for line in srv.text(o["replies"]["proc_ls"]).splitlines())
    files_open = backend == "directories"
    processes_open = backend in ("namespaces-shared-proc", "uid", "directories") or (backend == "landlock" and proc_readable)
    return {
        "A01 cat A's canary by path": files_open,
        "A01 find / locates A's file": files_open,
        "A01 git log of A's repository": files_open,
        "A02 ls of the root shows A's id": files_open,
        "A11 the server's HMAC key": files_open,
        "A12/A13 A's process and command line in ps": processes_open,
        "A14 A's credential from /proc/*/environ": backend == "directories"
        or (backend == "namespaces-shared-proc" and not any(l == "per-tenant uid" or l.startswith("landlock") for l in layers)),
        # Where A's processes are visible, so is the command line of A's launcher,
        # `probe launch --tenant <A's id> ...`: the id is not a secret there.
        "A02/A13 A's tenant id anywhere in B's output": files_open or processes_open,
    }


def check_controls(o):
    """The scenario ran as meant, so a 'no leak' verdict is not vacuous."""
    setup, own, sleeper = o["setup"], o["replies"]["own"], o["sleeper"]
    assert setup["http"] == 200 and setup["agent"]["exit_status"] == 0, setup
    assert o["commit"] in srv.text(setup), "A's commit was made"
    assert o["a"] in setup["content"][0]["text"], "LOGNAME is the HMAC-derived tenant id"
    assert o["a"] != o["tok_a"] and o["tok_a"] not in o["a"]
    assert "stand-in: policy readable" in setup["agent"]["stderr"], "the agent could read its settings inside the isolation"
    assert setup["agent"]["backend"] == o["backend"], setup["agent"]
    assert own["agent"]["exit_status"] == 0, own
    own_text = srv.text(own)
    assert o["tag"] in own_text and f"{o['b']} {o['root']}/{o['b']}" in own_text, "B works in its own workspace"
    assert o["tok_b"] in own_text, "B's credential reached B's agent through --env"
    assert o["a_process_seen_by_harness"], "A's process was running during B's attacks"
    assert sleeper["agent"]["exit_status"] == 0 and o["marker"] in srv.text(sleeper)
    assert int(srv.text(sleeper).split(o["marker"])[1].split()[0]) < 150, "A's process ended on the harness's word, after B's attacks"
    for name, reply in o["replies"].items():
        assert reply["http"] == 200, (name, reply)
    ps = srv.text(o["replies"]["ps"])
    assert "ps aux" in ps or o["backend"] == "landlock", f"ps works and shows B's own process: {ps}"
    for token in (o["tok_a"], o["tok_b"]):
        assert token not in ps, "a credential is on some command line: the server must pass it with --env NAME only"


def judge(o):
    check_controls(o)
    got, want = leaks(o), expected_leaks(o["backend"], o)
    assert got == want, "\n".join(f"{row}: B got it {got[row]}, the catalogue says {want[row]}"
                                  for row in got if got[row] != want[row])
    return got


# Facts withheld from the launcher to get a backend without a layer it would add here: what
# it is on a kernel without Landlock (gVisor, older kernels) or where no uid switch works.
NO_LANDLOCK = {"ISOLATION_LANDLOCK_ABI": None, "ISOLATION_HARDENING_LANDLOCK": "0"}
NO_LAYERS = {**NO_LANDLOCK, "ISOLATION_UID_SWITCH": "0", "ISOLATION_HARDENING_PER_TENANT_UID": "0"}
CASES = [pytest.param(b, {}, id=b) for b in BACKENDS] + [
    pytest.param("uid", NO_LANDLOCK, id="uid-without-landlock"),
    pytest.param("namespaces-shared-proc", NO_LAYERS, id="namespaces-shared-proc-alone"),
]


@pytest.mark.parametrize("backend,withheld", CASES)
def test_tenant_b_against_tenant_a(backend, withheld, available, isolation, server_factory):
    if not available.get(backend):
        pytest.fail(f"{backend} is not available here; test_an_isolation_failure_is_a_503 covers refusals")
    facts = {k: v for k, v in {**isolation, **withheld}.items() if v is not None}
    server = server_factory(backend, isolation=facts)
    o = srv.attack_scenario(server)
    layers = o["setup"].get("agent", {}).get("layers", [])
    if withheld:
        assert not any(l.startswith("landlock") for l in layers), f"Landlock applied though withheld: {layers}"
    got = judge(o)
    if backend == "directories":
        assert all(got.values()), "directories stops nothing"
        assert "no kernel isolation" in server.log_text(), "the server's log says it at start"


def tree(path):
    """{relative path: bytes} of every regular file under path."""
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(Path(path).rglob("*")) if p.is_file() and not p.is_symlink()}


def test_twenty_requests_from_five_tenants_at_once(server_factory, isolation):
    server = server_factory(None)
    tokens = [f"concurrent-tenant-{i}-{os.getpid()}" for i in range(5)]
    jobs = [(tokens[i % 5], f"n{i:02d}x{os.getpid()}") for i in range(20)]

    def one(job):
        token, nonce = job
        with httpx.Client(base_url=server.url, timeout=120) as client:
            return srv.ask(client, token, f"echo {nonce} > {nonce}.txt; sleep 0.3; echo \"$LOGNAME $PWD $(cat {nonce}.txt)\"; ls")

    started = time.monotonic()
    with ThreadPoolExecutor(20) as pool:
        replies = list(pool.map(one, jobs))
    elapsed = time.monotonic() - started
    nonces_of = {t: {n for tt, n in jobs if tt == t} for t in tokens}
    for (token, nonce), reply in zip(jobs, replies):
        assert reply["http"] == 200 and reply["agent"]["exit_status"] == 0, reply
        assert reply["agent"]["backend"] == isolation["ISOLATION_BACKEND"]
        tenant = server.tenant(token)
        out = reply["content"][0]["text"]
        assert out.splitlines()[0] == f"{tenant} {server.root}/{tenant} {nonce}"
        others = {n for t, ns in nonces_of.items() if t != token for n in ns}
        assert not any(n in out for n in others), f"cross-talk: {out}"
    assert {p.name for p in server.root.iterdir() if not p.name.startswith(".")} == {server.tenant(t) for t in tokens}
    # Nothing of any tenant outlives its response: no agent (its command line holds a nonce)
    # and no launcher (its command line holds this server's workspace root).
    markers = [n.encode() for _, n in jobs] + [str(server.root).encode()]
    assert srv.processes_holding(markers) == [], "processes left after the last response"
    print(f"20 requests from 5 tenants in {elapsed:.2f} s")


def test_bad_input_leaves_the_server_up_and_the_tenants_intact(server_factory):
    server = server_factory(None)
    sentinel = server.base / "sentinel"
    sentinel.write_text("untouched")
    with httpx.Client(base_url=server.url, timeout=60) as client:
        body = {"messages": [{"role": "user", "content": "true"}]}
        for headers in ({}, {"Authorization": "Bearer"}, {"Authorization": "Basic dXNlcjpwdw=="},
                        {"Authorization": "Bearer two words"}):
            r = client.post("/v1/messages", json=body, headers=headers)
            assert r.status_code == 401 and r.json()["error"]["type"] == "authentication_error", (headers, r.text)

        a = srv.ask(client, "the-real-tenant-a", "echo A-SECRET-CANARY > secret.txt && echo \"$LOGNAME\"")
        a_id = a["content"][0]["text"].strip()
        assert a_id == server.tenant("the-real-tenant-a")
        before = tree(server.root / a_id)
        # A token spelling A's tenant id is just another token: another tenant.
        impostor = srv.ask(client, a_id, f"echo \"$LOGNAME\"; cat {server.root}/{a_id}/secret.txt")
        assert impostor["http"] == 200
        assert impostor["content"][0]["text"].splitlines()[0] == server.tenant(a_id) != a_id
        assert "A-SECRET-CANARY" not in srv.text(impostor)

        auth = {"Authorization": "Bearer someone"}
        r = client.post("/v1/messages", content=b"x" * (256 * 1024 + 1), headers=auth)
        assert r.status_code == 413 and r.json()["type"] == "error"
        r = client.post("/v1/messages", content=(b"y" * 65536 for _ in range(160)), headers=auth)  # 10 MiB, chunked
        assert r.status_code == 413
        for bad in (b"{not json", b'{"messages": []}', b'{"messages": [{"role": "user", "content": 7}]}'):
            r = client.post("/v1/messages", content=bad, headers=auth)
            assert r.status_code == 400 and r.json()["error"]["type"] == "invalid_request_error", bad

        # Quoting: the prompt reaches the agent as bytes on stdin, never inside a shell string.
        for prompt in ("'; rm -rf / #", f"'; touch {server.base}/escaped #", f"\"; touch {server.base}/escaped2; \""):
            r = srv.ask(client, "someone", prompt)
            assert r["http"] == 200 and r["agent"]["exit_status"] != 0, r   # a syntax error for the agent's sh
        assert client.get("/healthz").json()["status"] == "ok"
    assert server.alive()
    assert not (server.base / "escaped").exists() and not (server.base / "escaped2").exists()
    assert sentinel.read_text() == "untouched"
    assert tree(server.root / a_id) == before, "A's workspace changed"


def test_an_isolation_failure_is_a_503_with_the_reason_in_the_log_only(server_factory):
    # landlock has no network namespace: the launcher refuses --network none (exit 125).
    server = server_factory("landlock", extra_env={"AGENT_NETWORK": "none"})
    with httpx.Client(base_url=server.url, timeout=60) as client:
        r = srv.ask(client, "someone", "echo should-not-run")
    assert r["http"] == 503, r
    assert r["error"]["type"] == "isolation_unavailable"
    assert "network" not in json.dumps(r) and "should-not-run" not in json.dumps(r)
    log = server.log_text()
    assert "launcher refused" in log and "network" in log, log
    assert server.alive()


RUNSC_20240729 = envs.RUNSC_20240729


def in_gvisor(runsc, probe, user=None):
    """The server and its client inside one gVisor sandbox (runsc do: the host's files under
    a throw-away overlay, loopback only), as root or as an unprivileged user; the backend is
    what the probe selects in there, as the entrypoint would. `find` is bounded to /tmp
    (the workspaces' file system) because a whole-tree walk through gVisor's gofer outlasts
    the time limit; the sandbox's own /root is opened (in the overlay only) so another uid
    can run this Python."""
    argv = [runsc, "--network=none", "do", sys.executable, str(Path(srv.__file__)), "--probe", probe,
            "--find-top", "/tmp"]
    if user is not None:
        argv += ["--user", str(user), "--open-dir", "/root"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=150, cwd=str(Path(srv.__file__).parent))
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


GVISOR_ROOT_CHOWN = pytest.mark.xfail(strict=True, reason="probe launch on main (59195c2 to 5613562) under gVisor "
                                      "20221219 as root: every uid launch is refused at 'chown <workspace> to uid N' "
                                      "with EBADF (the server answers 503, fail closed); remove this marker when the "
                                      "uid backend launches there")


@pytest.mark.parametrize("runsc,user", [
    pytest.param("runsc", None, marks=GVISOR_ROOT_CHOWN, id="gvisor-20221219-root"),
    pytest.param("runsc", 65534, id="gvisor-20221219-unprivileged"),
    pytest.param(RUNSC_20240729, None, id="gvisor-20240729-root"),
    pytest.param(RUNSC_20240729, 65534, id="gvisor-20240729-unprivileged"),
])
def test_tenant_b_against_tenant_a_under_gvisor(runsc, user, probe):
    assert os.access(runsc, os.X_OK) or shutil.which(runsc), f"{runsc} is missing (scripts/test fetches it)"
    o = in_gvisor(runsc, probe, user)
    try:
        judge(o)
    except AssertionError:
        print(o.get("log", "")[-4000:])
        raise


# The layer that makes each backend what it claims (launch-status/1 layer names).
DEFINING_LAYER = {"landlock": "landlock", "uid": "per-tenant uid"}


@pytest.mark.xfail(strict=True, reason="probe launch on main (59195c2 to 5613562) fails open: with ISOLATION_BACKEND=landlock or uid "
                   "and no other ISOLATION_* fact, it runs the command as the server's uid (root) without Landlock or "
                   "a uid switch and reports that backend; remove this marker when it refuses (125) or applies the layer")
@pytest.mark.parametrize("backend", ["landlock", "uid"])
def test_a_backend_named_without_its_verified_facts_fails_closed(backend, server_factory):
    """A server given only ISOLATION_BACKEND (no facts from `probe --format env`) must not get
    a tenant that runs as itself: the launcher refuses (503) or applies the backend's layer."""
    server = server_factory(backend, isolation={})
    with httpx.Client(base_url=server.url, timeout=60) as client:
        r = srv.ask(client, "someone", "id -u")
    if r["http"] == 503:
        return
    assert r["http"] == 200, r
    layers = r["agent"]["layers"]
    assert any(l.startswith(DEFINING_LAYER[backend]) for l in layers), f"backend {backend} without its layer: {layers}"
    assert r["content"][0]["text"].strip() != "0", "the tenant runs as root"


def test_the_time_limit_ends_the_agent_and_its_processes(server_factory):
    server = server_factory(None, extra_env={"AGENT_TIME_LIMIT": "2"})
    marker = f"overtime-{os.getpid()}"
    started = time.monotonic()
    with httpx.Client(base_url=server.url, timeout=60) as client:
        r = srv.ask(client, "someone", f"sleep 30; echo {marker}")
    elapsed = time.monotonic() - started
    assert r["http"] == 200 and r["agent"]["timed_out"] and r["agent"]["exit_status"] == 124, r
    assert elapsed < 6, f"answered after {elapsed:.1f} s for a 2 s limit"
    assert srv.processes_holding([marker.encode(), str(server.root).encode()]) == []


def test_the_container_entrypoint_starts_the_server(probe, tmp_path):
    """examples/container/entrypoint.sh then the server, as the image runs them (as a plain
    process here): the server gets the exported ISOLATION_* and launches with that backend."""
    base = Path(srv.tempfile.mkdtemp(prefix="agent-server-test."))
    os.chmod(base, 0o755)
    port = srv.free_port()
    env = dict(PATH=os.environ["PATH"], PROBE=probe, ISOLATION_MINIMUM="uid", ISOLATION_ENV_FILE=str(base / "isolation.env"),
               ISOLATION_WORKSPACE_ROOT=str(base / "workspaces"), AGENT_SERVER_STATE=str(base / "state"),
               AGENT_COMMAND=f"/bin/sh {srv.AGENT}", AGENT_RO_BINDS=str(srv.AGENT.parent))
    (base / "workspaces").mkdir(mode=0o711)
    log = open(base / "log", "w+")
    proc = subprocess.Popen(["sh", str(envs.REPO / "examples" / "container" / "entrypoint.sh"),
                             sys.executable, "-m", "uvicorn", "server:app", "--app-dir", str(srv.SERVER_DIR),
                             "--host", "127.0.0.1", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT,
                            cwd="/", start_new_session=True)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                health = httpx.get(url + "/healthz", timeout=1).json()
                break
            except httpx.TransportError:
                assert proc.poll() is None and time.monotonic() < deadline, (base / "log").read_text()
                time.sleep(0.1)
        exported = dict(l.split("=", 1) for l in (base / "isolation.env").read_text().splitlines() if "=" in l)
        assert health["backend"] == exported["ISOLATION_BACKEND"]
        with httpx.Client(base_url=url, timeout=60) as client:
            r = srv.ask(client, "someone", "echo \"$LOGNAME\"")
        assert r["http"] == 200 and r["agent"]["backend"] == exported["ISOLATION_BACKEND"], r
        assert "entrypoint: isolation backend" in (base / "log").read_text()
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()
        srv.shutil.rmtree(base, ignore_errors=True)
