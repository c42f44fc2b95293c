"""The gateway's process leaves out what libraries import eagerly and it never uses (gateway/lean.py),
and imports what only rare work needs when that work comes (issue 19: the resident set): its API
still builds, and those modules are not in the process."""

from __future__ import annotations

import functools
import json
import subprocess
import sys

from gateway.lean import UNUSED

# What `hallgate run` imports before it serves, through its own entry point (cli.main marks the
# unused modules): the runtime, every route (the kinds' too), the HTTP server's protocols, and a
# first HTTP client (httpx imports httpcore and its backends then). `click` stays: uvicorn uses it.
PROBE = """
import json, sys
from gateway import cli
cli.lean.skip_unused_imports()
import gateway.runtime
import httpx
from gateway.api.app import kind_routers
from gateway.api.server import ServerConfig

async def app(scope, receive, send):
    pass

kind_routers()
ServerConfig(app, request_timeout_s=1.0, lifespan="off").load()
httpx.AsyncClient()
WATCHED = ("httpx._main", "pydantic.v1", "trio", "rich", "pygments", "openpyxl", "PIL", "websockets")
loaded = [m for m in WATCHED if sys.modules.get(m) is not None]
from gateway.api.export import Column, to_xlsx
to_xlsx("sheet", [Column("a")], [["x"]])
print(json.dumps({"loaded": loaded, "after_xlsx": sys.modules.get("openpyxl") is not None}))
"""


@functools.cache
def _probe(marks: bool) -> dict:
    probe = PROBE if marks else PROBE.replace("cli.lean.skip_unused_imports()", "")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=300)
    return json.loads(out.stdout)


def test_the_gateway_process_does_not_load_the_modules_it_never_uses() -> None:
    assert _probe(marks=True)["loaded"] == []
    # Without the marks, the same imports load them: the probe can see them.
    assert set(_probe(marks=False)["loaded"]) >= set(UNUSED)


def test_openpyxl_comes_with_the_first_spreadsheet_not_with_the_routes() -> None:
    probe = _probe(marks=True)
    assert "openpyxl" not in probe["loaded"]
    assert probe["after_xlsx"]  # the probe sees openpyxl once a spreadsheet is made
