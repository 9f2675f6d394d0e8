"""A multi-tenant agent endpoint: one agent CLI process per request, each tenant launched by
`probe launch` under the isolation the container's entrypoint measured and verified.

    POST /v1/messages   Authorization: Bearer <token>, an Anthropic Messages-like body
                        {"model": ..., "messages": [{"role": "user", "content": "..."}]}
    GET  /healthz       {"status": "ok", "backend": ...}

What happens for one request:
  1. tenant id = HMAC-SHA256(server key, token), first 32 hex digits: in the launcher's
     alphabet, stable per token, and never the token itself (ids show up in paths and, under
     most backends, in other tenants' process listings).
  2. `probe policy` writes the tenant's Claude Code settings to <state>/policy/<id>/ and
     returns the flags to run the agent with.
  3. `probe launch --tenant <id> ... -- AGENT_COMMAND <policy flags>`: the prompt goes on
     standard input (argv is readable by other tenants through /proc under every backend but
     namespaces), the token reaches the agent only as an environment variable passed with
     `--env NAME` (its value is not on the launcher's command line either).
  4. exit status 125 from the launcher = isolation could not be applied: 503, the launcher's
     reason in this server's log only.

Configuration (environment):
  PROBE                     the probe binary (default: probe on PATH)
  ISOLATION_BACKEND         from the entrypoint (`probe --format env`); passed as --backend
  ISOLATION_WORKSPACE_ROOT  tenant workspaces (default /workspaces; made 0711 here)
  AGENT_SERVER_STATE        server state: HMAC key, policies, run files (default /var/lib/agent-server)
  AGENT_COMMAND             the agent CLI, split like a shell word list, never run by a shell
                            (default: claude -p --output-format json)
  AGENT_RO_BINDS            colon-separated directories the agent needs inside namespace
                            backends besides /usr /bin /lib* /etc (its install directory)
  AGENT_CREDENTIAL_ENV      the variable the token is handed to the agent in (ANTHROPIC_API_KEY)
  AGENT_TIME_LIMIT          seconds per request (default 300)
  AGENT_NETWORK             none or shared, passed as --network when set
  AGENT_LIMITS              passed as --limit (default nproc=512,nofile=1024)
  AGENT_MAX_BODY            request body bound in bytes (default 262144)
  AGENT_MAX_CONCURRENT      agent processes at once (default 16); more requests wait
"""
import asyncio
import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import shlex
import signal
import tempfile
import time
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

log = logging.getLogger("agent-server")
LAUNCHER_FAILED = 125      # probe launch: usage error, or a layer could not be applied
TIME_LIMIT_REACHED = 124   # probe launch: --time-limit killed the tenant's process tree
MAX_OUTPUT = 1 << 20
TOKEN = re.compile(r"[\x21-\x7e]{1,4096}")   # printable ASCII, no spaces


class Settings:
    def __init__(self, env=os.environ):
        self.probe = env.get("PROBE", "probe")
        self.backend = env.get("ISOLATION_BACKEND") or None
        self.workspace_root = Path(env.get("ISOLATION_WORKSPACE_ROOT", "/workspaces"))
        self.state = Path(env.get("AGENT_SERVER_STATE", "/var/lib/agent-server"))
        self.agent_command = shlex.split(env.get("AGENT_COMMAND", "claude -p --output-format json"))
        self.ro_binds = [p for p in env.get("AGENT_RO_BINDS", "").split(":") if p]
        self.credential_env = env.get("AGENT_CREDENTIAL_ENV", "ANTHROPIC_API_KEY")
        self.time_limit = int(env.get("AGENT_TIME_LIMIT", "300"))
        self.network = env.get("AGENT_NETWORK") or None
        self.limits = env.get("AGENT_LIMITS", "nproc=512,nofile=1024")
        self.max_body = int(env.get("AGENT_MAX_BODY", str(256 * 1024)))
        self.max_concurrent = int(env.get("AGENT_MAX_CONCURRENT", "16"))
        # What the launcher may see of the server's environment: the ISOLATION_* choice and
        # PATH. The server's own secrets never reach it.
        self.launcher_env = {k: v for k, v in env.items() if k.startswith("ISOLATION_") or k in ("PATH", "LANG")}
        if not self.agent_command:
            raise SystemExit("AGENT_COMMAND is empty")


def error(status, kind, message):
    return JSONResponse({"type": "error", "error": {"type": kind, "message": message}}, status_code=status)


def prepare_state(cfg):
    """Directories the server owns; returns the HMAC key. 0711 roots: a tenant uid can reach
    its own entry by name but cannot list the others (attack A02 under the uid backend)."""
    for d in (cfg.state, cfg.state / "policy", cfg.workspace_root):
        d.mkdir(parents=True, exist_ok=True)
        os.chmod(d, 0o711)
    (cfg.state / "run").mkdir(mode=0o700, exist_ok=True)
    os.chmod(cfg.state / "run", 0o700)
    key_file = cfg.state / "hmac-key"
    try:
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32))
    except FileExistsError:
        pass
    return key_file.read_bytes().strip()


def tenant_id(key, token):
    return hmac.new(key, token.encode(), hashlib.sha256).hexdigest()[:32]


def prompt_of(body):
    """The last user turn's text (a string, or text blocks). None when there is none."""
    if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
        return None
    for message in reversed(body["messages"]):
        if isinstance(message, dict) and message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, str):
                return content
            if isinstance(content, list):
                texts = [b.get("text") for b in content if isinstance(b, dict) and b.get("type") == "text"]
                if texts and all(isinstance(t, str) for t in texts):
                    return "\n".join(texts)
            return None
    return None


async def run(argv, env=None, stdin=None, timeout=None):
    """A child process without a shell; (exit status, stdout, stderr), output bounded."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = await asyncio.create_subprocess_exec(*argv, env=env, stdin=asyncio.subprocess.PIPE,
                                                    stdout=out, stderr=err, start_new_session=True)
        try:
            await asyncio.wait_for(proc.communicate(stdin), timeout)
        except asyncio.TimeoutError:
            # The launcher forwards SIGTERM to the tenant and kills its tree; then we insist.
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), 5)
            except asyncio.TimeoutError:
                proc.kill()
                await proc.wait()
        texts = []
        for f in (out, err):
            f.seek(0)
            texts.append(f.read(MAX_OUTPUT).decode("utf-8", "replace"))
        return proc.returncode, texts[0], texts[1]


async def tenant_policy(cfg, tenant):
    """`probe policy` for the tenant: the settings file in a per-tenant directory (bound
    read-only into the sandbox, so no tenant sees another's), and its JSON document."""
    directory = cfg.state / "policy" / tenant
    directory.mkdir(exist_ok=True)
    os.chmod(directory, 0o755)
    argv = [cfg.probe, "policy", "--agent", "claude-code", "--tenant", tenant,
            "--workspace-root", str(cfg.workspace_root), "--protect", str(cfg.state),
            "--output", str(directory / "settings.json"), "--json"]
    if cfg.backend:
        argv += ["--backend", cfg.backend]
    status, out, err = await run(argv, env=cfg.launcher_env, timeout=30)
    if status != 0:
        raise RuntimeError(f"probe policy exited {status}: {err.strip()}")
    return directory, json.loads(out)


def launch_argv(cfg, tenant, policy_dir, policy, status_file):
    argv = [cfg.probe, "launch", "--tenant", tenant, "--workspace-root", str(cfg.workspace_root),
            "--time-limit", str(cfg.time_limit), "--status", str(status_file),
            "--env", cfg.credential_env]
    if cfg.backend:
        argv += ["--backend", cfg.backend]
    if cfg.network:
        argv += ["--network", cfg.network]
    if cfg.limits:
        argv += ["--limit", cfg.limits]
    for name, value in policy["environment"].items():
        argv += ["--env", f"{name}={value}"]
    for path in [str(policy_dir)] + cfg.ro_binds:
        argv += ["--ro-bind", path]
    return argv + ["--"] + cfg.agent_command + policy["flags"]


def create_app(cfg=None):
    cfg = cfg or Settings()
    state = {}

    @asynccontextmanager
    async def lifespan(app):
        state["key"] = prepare_state(cfg)
        state["slots"] = asyncio.Semaphore(cfg.max_concurrent)
        # Fail at start, not at the first request, when the policy cannot be produced; and
        # put the policy's warnings (under directories: no kernel isolation) in the log.
        argv = [cfg.probe, "policy", "--agent", "claude-code", "--tenant", "startup-check",
                "--workspace-root", str(cfg.workspace_root), "--json"] + (["--backend", cfg.backend] if cfg.backend else [])
        code, out, err = await run(argv, env=cfg.launcher_env, timeout=30)
        if code != 0:
            raise RuntimeError(f"probe policy exited {code}: {err.strip()}")
        for warning in json.loads(out)["warnings"]:
            log.warning("policy: %s", warning)
        log.info("agent server: backend %s, workspaces %s, agent %s", cfg.backend or "(launcher decides)",
                 cfg.workspace_root, shlex.join(cfg.agent_command))
        yield

    app = FastAPI(title="multi-tenant agent server", lifespan=lifespan)

    @app.get("/healthz")
    async def healthz():
        return {"status": "ok", "backend": cfg.backend}

    @app.post("/v1/messages")
    async def messages(request: Request):
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not TOKEN.fullmatch(token):
            return error(401, "authentication_error", "an Authorization: Bearer <token> header is required")
        declared = request.headers.get("content-length", "0")
        if not declared.isdigit() or int(declared) > cfg.max_body:
            return error(413, "request_too_large", f"the body is limited to {cfg.max_body} bytes")
        raw = bytearray()
        async for chunk in request.stream():
            raw += chunk
            if len(raw) > cfg.max_body:
                return error(413, "request_too_large", f"the body is limited to {cfg.max_body} bytes")
        try:
            body = json.loads(raw)
        except ValueError:
            return error(400, "invalid_request_error", "the body is not JSON")
        prompt = prompt_of(body)
        if not prompt:
            return error(400, "invalid_request_error", "messages must end with a user turn holding text")

        tenant = tenant_id(state["key"], token)
        async with state["slots"]:
            started = time.monotonic()
            try:
                policy_dir, policy = await tenant_policy(cfg, tenant)
            except Exception as e:   # a policy that cannot be produced is an isolation failure
                log.error("tenant %s: no policy: %s", tenant, e)
                return error(503, "isolation_unavailable", "the agent cannot be started here; see the server log")
            fd, status_path = tempfile.mkstemp(dir=cfg.state / "run", prefix="status.")
            os.close(fd)
            try:
                env = dict(cfg.launcher_env, **{cfg.credential_env: token})
                code, out, err = await run(launch_argv(cfg, tenant, policy_dir, policy, status_path), env=env,
                                           stdin=prompt.encode(), timeout=cfg.time_limit + 5)
                try:
                    status = json.loads(Path(status_path).read_text() or "null") or {}
                except ValueError:
                    status = {}
            finally:
                os.unlink(status_path)
            elapsed = time.monotonic() - started

        # Lines the launcher itself wrote (reopened attacks, failures) go to the log only.
        launcher_lines = [l for l in err.splitlines() if l.startswith("probe launch:")]
        agent_err = "\n".join(l for l in err.splitlines() if not l.startswith("probe launch:"))
        for line in launcher_lines:
            log.info("tenant %s: %s", tenant, line)
        # 125 is the launcher's own failure unless its status says the command started
        # (then it is the agent's exit status). A usage refusal writes no status at all.
        if code == LAUNCHER_FAILED and not status.get("command_started"):
            log.error("tenant %s: launcher refused (step %s, errno %s): %s", tenant, status.get("failed_step"),
                      status.get("errno"), status.get("cause") or err.strip())
            return error(503, "isolation_unavailable", "the agent cannot be started with the required isolation")
        if code is None or code < 0:
            log.error("tenant %s: launcher did not finish within %ss; killed", tenant, cfg.time_limit + 5)
            return error(504, "timeout", "the agent did not finish in time")
        timed_out = code == TIME_LIMIT_REACHED and elapsed >= cfg.time_limit - 1
        log.info("tenant %s: backend %s exit %s in %.0f ms", tenant, status.get("backend"), code, elapsed * 1000)
        return {
            "id": "msg_" + secrets.token_hex(12),
            "type": "message",
            "role": "assistant",
            "model": body.get("model") if isinstance(body.get("model"), str) else "agent",
            "content": [{"type": "text", "text": out}],
            "stop_reason": "max_tokens" if timed_out else "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": 0, "output_tokens": 0},
            "agent": {
                "exit_status": code,
                "stderr": agent_err,
                "timed_out": timed_out,
                "backend": status.get("backend"),
                "layers": [l.get("name") for l in status.get("layers", []) if l.get("applied")],
                "duration_ms": round(elapsed * 1000),
            },
        }

    return app


logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
app = create_app()
