"""`probe policy`: the settings it writes validate against Claude Code's published schema
(vendored in tests/data), every rule follows the CLI's real grammar, and under directories
the output says, every time, that there is no kernel isolation."""
import json
import re
import subprocess
from pathlib import Path

import jsonschema
import pytest

import environments as envs

SCHEMA = json.loads((envs.REPO / "tests" / "data" / "claude-code-settings.schema.json").read_text())
BACKENDS = ["namespaces", "namespaces-shared-proc", "landlock", "uid", "directories"]
NO_KERNEL = "no kernel isolation"

# The seed document's settings (shared/seed, "Solution 1"), as its Python would produce them.
SEED = {"permissions": {"defaultMode": "ask",
                        "allowedTools": ["Read", "Write(/workspaces/abc/*)", "Edit(/workspaces/abc/*)", "Bash(git:*)"],
                        "deny": ["Read(/workspaces/*)!/workspaces/abc", "Bash(ls:/workspaces)", "Read(/proc/*)!(/proc/self/*)"]}}


def grammar_problems(rule):
    """The grammar checks of AGENT-POLICY.md §1, written independently of the Swift ones."""
    found = []
    m = re.fullmatch(r"([A-Za-z_*]+[A-Za-z0-9_*]*)(?:\((.+)\))?", rule)
    if not m:
        return [f"not Tool or Tool(specifier): {rule}"]
    tool, spec = m.groups()
    if "!" in rule:
        found.append("'!' exclusion")
    if tool in ("Write", "Glob", "NotebookEdit") and spec:
        found.append(f"{tool}(path) is never consulted")
    if tool in ("Read", "Edit") and spec:
        if spec.startswith("/") and not spec.startswith("//"):
            found.append("single-slash path: relative to the settings file")
        if not spec.endswith("/**"):
            found.append("a directory rule must end in /** to cover the subtree")
    if tool == "Bash" and spec and ":" in spec:
        head = spec.split(":", 1)[0]
        if not spec.endswith(":*") and head not in ("dangerouslyDisableSandbox", "run_in_background"):
            found.append("':' is only special as a trailing ':*'")
    return found


def policy(*args, check=True):
    return subprocess.run([envs.probe_binary(), "policy", *args], capture_output=True, text=True, timeout=30, check=check)


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_settings_validate_and_follow_the_grammar(backend, tmp_path):
    out = tmp_path / "settings.json"
    done = policy("--agent", "claude-code", "--tenant", "t-7f3a9c", "--workspace-root", "/srv/workspaces",
                  "--backend", backend, "--protect", "/var/lib/agent-server", "--output", str(out), "--json")
    doc = json.loads(done.stdout)
    settings = json.loads(out.read_text())
    assert settings == doc["settings"]
    jsonschema.Draft7Validator(SCHEMA).validate(settings)
    perms = settings["permissions"]
    assert perms["defaultMode"] == "dontAsk"
    assert settings["disableAllHooks"] is True and settings["enableAllProjectMcpServers"] is False
    rules = perms["allow"] + perms["ask"] + perms["deny"]
    assert [r for r in rules if grammar_problems(r)] == []
    assert perms["allow"][:2] == ["Read(//srv/workspaces/t-7f3a9c/**)", "Edit(//srv/workspaces/t-7f3a9c/**)"]
    assert "Read(//var/lib/agent-server/**)" in perms["deny"]
    flags = doc["flags"]
    assert flags[flags.index("--settings") + 1] == str(out)
    assert flags[flags.index("--permission-mode") + 1] == "dontAsk"
    assert flags[flags.index("--setting-sources") + 1] == ""
    assert "--strict-mcp-config" in flags
    assert flags[flags.index("--disallowedTools") + 1].split(",") == perms["deny"]
    said = (NO_KERNEL in done.stderr, any(NO_KERNEL in w for w in doc["warnings"]))
    assert said == ((True, True) if backend == "directories" else (False, False))


def test_the_managed_file_validates_and_follows_the_grammar(tmp_path):
    out = tmp_path / "managed-settings.json"
    policy("--agent", "claude-code", "--managed", "--protect", "/var/lib/agent-server", "--output", str(out))
    managed = json.loads(out.read_text())
    jsonschema.Draft7Validator(SCHEMA).validate(managed)
    assert managed["allowManagedHooksOnly"] is True and managed["disableAllHooks"] is True
    assert [r for r in managed["permissions"]["deny"] if grammar_problems(r)] == []
    assert "Read(//var/lib/agent-server/**)" in managed["permissions"]["deny"]
    assert policy("--agent", "claude-code", "--managed", "--tenant", "abc", check=False).returncode == 2


def test_directories_says_it_in_every_output_mode(tmp_path):
    base = ["--agent", "claude-code", "--tenant", "abc", "--backend", "directories"]
    for extra in ([], ["--json"], ["--output", str(tmp_path / "s.json")], ["--output", str(tmp_path / "s.json"), "--json"]):
        done = policy(*base, *extra)
        assert NO_KERNEL in done.stderr, extra
        assert "reads and writes whatever the server's uid can read" in done.stderr + done.stdout


def test_the_seeds_settings_fail_the_same_checks():
    """The checks can fail: the seed's settings are rejected by the schema and its rules by the grammar."""
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft7Validator(SCHEMA).validate(SEED)
    rules = SEED["permissions"]["allowedTools"][1:3] + SEED["permissions"]["deny"]
    assert all(grammar_problems(r) for r in rules), [r for r in rules if not grammar_problems(r)]
    assert grammar_problems("Bash(git:*)") == [], "valid grammar (a bad idea: it allows running code, section 0)"


def test_usage_errors_exit_2(tmp_path):
    for args, needle in ((["--tenant", "abc"], "--agent is required"),
                         (["--agent", "codex", "--tenant", "abc"], "unknown agent"),
                         (["--agent", "claude-code"], "--tenant is required"),
                         (["--agent", "claude-code", "--tenant", "abc", "--backend", "vm"], "unknown backend"),
                         (["--agent", "claude-code", "--tenant", "abc", "--workspace-root", "ws"], "not an absolute path"),
                         (["--agent", "claude-code", "--tenant", "abc", "--workspace-root", "/w*"], "pattern syntax")):
        done = policy(*args, check=False)
        assert done.returncode == 2 and needle in done.stderr, (args, done.stderr)
    done = policy("--agent", "claude-code", "--tenant", "abc", "--output", str(tmp_path / "missing" / "s.json"), check=False)
    assert done.returncode == 1 and "cannot" in done.stderr


def test_help():
    done = policy("--help")
    for word in ("OVERVIEW", "USAGE", "OPTIONS", "EXIT CODES", "--tenant", "--workspace-root", "--backend", "--output"):
        assert word in done.stdout


def test_tenant_ids_are_judged_like_the_launcher_judges_them(tmp_path):
    """One implementation: an id probe policy refuses (2) the launcher refuses (125), and the reverse."""
    root = tmp_path / "ws"
    root.mkdir(mode=0o755)
    for tenant, ok in (("a", True), ("t-7f3a9c_x", True), ("z" * 63, True), ("", False), ("-a", False),
                       ("A", False), ("a.b", False), ("a/b", False), ("z" * 64, False)):
        pol = policy("--agent", "claude-code", "--tenant", tenant, "--backend", "directories", check=False)
        launch = subprocess.run([envs.probe_binary(), "launch", "--tenant", tenant, "--backend", "directories",
                                 "--workspace-root", str(root), "--", "true"], capture_output=True, text=True, timeout=30)
        assert (pol.returncode, launch.returncode) == ((0, 0) if ok else (2, 125)), (tenant, pol.stderr, launch.stderr)
