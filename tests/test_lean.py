"""The gateway's process leaves out what libraries import eagerly and it never uses (gateway/lean.py):
its API still builds, and those modules are not in the process."""

from __future__ import annotations

import json
import subprocess
import sys

from gateway.lean import UNUSED

# What `hallgate run` imports, through its own entry point (cli.main marks the unused modules);
# `click` stays: uvicorn uses it.
PROBE = """
import json, sys
from gateway import cli
cli.lean.skip_unused_imports()
import gateway.runtime
from gateway.api.app import create_app
loaded = [m for m in ("httpx._main", "pydantic.v1", "rich", "pygments") if sys.modules.get(m) is not None]
print(json.dumps(loaded))
"""


def test_the_gateway_process_does_not_load_the_modules_it_never_uses() -> None:
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, timeout=60)
    assert json.loads(out.stdout) == []
    # Without the marks, the same imports load them: the probe can see them.
    without = PROBE.replace("cli.lean.skip_unused_imports()", "")
    out = subprocess.run([sys.executable, "-c", without], capture_output=True, text=True, check=True, timeout=60)
    assert set(json.loads(out.stdout)) >= set(UNUSED)
