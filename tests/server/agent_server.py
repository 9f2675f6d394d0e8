"""Start examples/server on 127.0.0.1 with the stand-in agent, and play tenant B against
tenant A over HTTP.

test_server.py uses it on the host; inside gVisor it runs as a script under `runsc do`
(`python3 agent_server.py BACKEND [--user UID]`) and prints its observations as one JSON
object, which the test then judges with the same rules.
"""
import hashlib
import hmac
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
SERVER_DIR = REPO / "examples" / "server"
AGENT = HERE / "stand_in_agent.sh"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def as_user(uid):
    """argv prefix: run as `uid` with no capabilities (an unprivileged container user)."""
    if uid is None:
        return []
    return ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--inh-caps=-all", "--bounding-set=-all"]


def isolation_env(probe, user=None):
    """What the container entrypoint exports: `probe --format env`, measured here, as the
    server's user."""
    out = subprocess.run(as_user(user) + [probe, "--format", "env"], capture_output=True, text=True, timeout=60,
                         check=True, cwd="/").stdout
    return dict(line.split("=", 1) for line in out.splitlines() if line.startswith("ISOLATION_"))


class Server:
    """One uvicorn process serving examples/server/server.py, with its own workspace root,
    state directory and log, all under one fresh directory removed by stop().

    `isolation`: the ISOLATION_* variables the entrypoint would have exported; `backend`
    forces ISOLATION_BACKEND among them (None keeps the probe's choice)."""

    def __init__(self, probe, backend, isolation, extra_env=None, user=None, time_limit=20):
        self.base = Path(tempfile.mkdtemp(prefix="agent-server-test."))
        os.chmod(self.base, 0o755)                 # tenant uids traverse it to their workspace
        agent_dir = self.base / "agent"
        agent_dir.mkdir(mode=0o755)
        shutil.copy2(AGENT, agent_dir / AGENT.name)
        self.root = self.base / "workspaces"
        self.state = self.base / "state"
        if user is not None:
            os.chown(self.base, user, user)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "PROBE": probe,
            "ISOLATION_WORKSPACE_ROOT": str(self.root),
            "AGENT_SERVER_STATE": str(self.state),
            "AGENT_COMMAND": f"/bin/sh {agent_dir / AGENT.name}",
            "AGENT_RO_BINDS": str(agent_dir),
            "AGENT_TIME_LIMIT": str(time_limit),
        }
        env.update(isolation)
        if backend:
            env["ISOLATION_BACKEND"] = backend
        self.backend = env.get("ISOLATION_BACKEND")
        env.update(extra_env or {})
        argv = [sys.executable, "-m", "uvicorn", "server:app", "--app-dir", str(SERVER_DIR),
                "--host", "127.0.0.1", "--port", str(self.port), "--no-access-log"]
        argv = as_user(user) + argv
        self.log_path = self.base / "server.log"
        self.log = open(self.log_path, "w+")
        self.proc = subprocess.Popen(argv, env=env, stdout=self.log, stderr=subprocess.STDOUT, cwd="/",
                                     start_new_session=True)
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the server did not start: {self.log_text()}")
            time.sleep(0.05)
        self.key = (self.state / "hmac-key").read_bytes().strip()

    def tenant(self, token):
        """What the server must derive: HMAC-SHA256(key, token), 32 hex digits."""
        return hmac.new(self.key, token.encode(), hashlib.sha256).hexdigest()[:32]

    def log_text(self):
        self.log.flush()
        return self.log_path.read_text()

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        shutil.rmtree(self.base, ignore_errors=True)


def ask(client, token, prompt, **extra):
    """POST /v1/messages; returns the decoded JSON body with the status code under 'http'."""
    body = {"model": "stand-in", "max_tokens": 1024, "messages": [{"role": "user", "content": prompt}], **extra}
    r = client.post("/v1/messages", json=body, headers={"Authorization": f"Bearer {token}"})
    out = r.json()
    out["http"] = r.status_code
    return out


def text(reply):
    """Everything the tenant got back: the agent's stdout and stderr."""
    return reply["content"][0]["text"] + "\n" + reply["agent"]["stderr"]


def processes_holding(markers):
    """[(pid, command line)] of live processes whose command line contains any marker."""
    found = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                cmdline = (p / "cmdline").read_bytes()
            except OSError:
                continue
            if any(m in cmdline for m in markers):
                found.append((int(p.name), cmdline.replace(b"\0", b" ").decode(errors="replace")))
    return found


def wait_for_process(marker, timeout=10):
    """Until some process's command line holds `marker` (this process sees them all)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if processes_holding([marker.encode()]):
            return True
        time.sleep(0.05)
    return False


def attack_scenario(server, find_top="/"):
    """Tenant A plants a canary file, a git repository and a running process holding its
    token in its environment; meanwhile tenant B tries each row of the catalogue.
    Returns the raw observations (see judge() in test_server.py)."""
    tag = secrets.token_hex(6)
    tok_a, tok_b = f"tenant-a-token-{tag}", f"tenant-b-token-{tag}"
    canary, commit, marker = f"CANARY-{tag}", f"COMMIT-{tag}", f"PROCESS-{tag}"
    a, b = server.tenant(tok_a), server.tenant(tok_b)
    root = server.root
    attacks = {
        # ls, and a glob for where ls cannot stat (gVisor 2022 answers EINVAL to statx).
        "ls_root": f"ls -a {root}; echo {root}/*",
        "cat_secret": f"cat {root}/{a}/secret.txt",
        "find": f"find {find_top} -name secret.txt 2>/dev/null",
        "ps": "ps aux",
        "proc_ls": "ls /proc",
        "environ": "cat /proc/*/environ 2>/dev/null | tr '\\0' '\\n'",
        "git_log": f"git -C {root}/{a}/repo log",
        "server_key": f"cat {server.state}/hmac-key",
        "own": f"echo {tag} > mine.txt && cat mine.txt && echo \"$LOGNAME $PWD\" && cat /proc/self/environ | tr '\\0' '\\n'",
    }
    with httpx.Client(base_url=server.url, timeout=120) as client:
        setup = ask(client, tok_a, f"echo {canary} > secret.txt && git init -q repo && cd repo && echo x > f && git add f"
                                   f" && git -c user.name=a -c user.email=a@a.invalid commit -qm {commit}"
                                   f" && git log --oneline && echo \"$LOGNAME\"")
        if setup["http"] != 200:   # nothing launches: no scenario to play (the judge says why)
            return {"backend": server.backend, "setup": setup, "replies": {}}
        with ThreadPoolExecutor(1) as pool:
            # A's process lives until the harness (root, outside every tenant) drops a file in
            # A's workspace, so it is there for every attack and gone right after; 15 s at most.
            sleeper = pool.submit(ask, client, tok_a, "i=0; while [ ! -e stop ] && [ $i -lt 150 ]; do sleep 0.1;"
                                                      f" i=$((i+1)); done; echo {marker} $i")
            seen = wait_for_process(marker)
            replies = {name: ask(client, tok_b, prompt) for name, prompt in attacks.items()}
            (root / a / "stop").touch()
            slept = sleeper.result()
    return {"backend": server.backend, "a": a, "b": b, "tok_a": tok_a, "tok_b": tok_b, "canary": canary,
            "commit": commit, "marker": marker, "tag": tag, "key": server.key.decode(), "root": str(root),
            "a_process_seen_by_harness": seen, "setup": setup, "sleeper": slept, "replies": replies,
            "prompts": attacks}


def main():
    """Inside a sandbox: start the server (optionally as another uid), run the scenario, print JSON."""
    import argparse
    ap = argparse.ArgumentParser()
    ap.add_argument("backend", nargs="?")
    ap.add_argument("--probe", required=True)
    ap.add_argument("--user", type=int)
    ap.add_argument("--find-top", default="/")
    ap.add_argument("--open-dir", action="append", default=[],
                    help="chmod 0755 (inside the sandbox's overlay) so another uid can run Python")
    args = ap.parse_args()
    for d in args.open_dir:
        os.chmod(d, 0o755)
    server = Server(args.probe, args.backend, isolation_env(args.probe, args.user), user=args.user)
    try:
        observed = attack_scenario(server, find_top=args.find_top)
        observed["log"] = server.log_text()
    finally:
        server.stop()
    print(json.dumps(observed))


if __name__ == "__main__":
    main()
