import sys
from pathlib import Path

# The environment helpers (probe_binary, REPO) are shared by every test folder.
sys.path.insert(0, str(Path(__file__).resolve().parent / "env"))
