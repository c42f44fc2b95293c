"""Optional modules that libraries import eagerly and the gateway never uses, kept out of its
resident set (issue 19: a demo hall's gateway under 70 MiB).

- `httpx._main`: httpx's command-line client; httpx imports it whenever `click` and `rich` are
  installed (uvicorn and typer bring them), and with them `rich` and `pygments`: about 3 MiB.
- `pydantic.v1`: FastAPI imports it to check whether a route's model is a pydantic 1 model
  (refused anyway); the gateway's are all pydantic 2: about 1.7 MiB.
- `trio`: httpcore imports it, when installed, with its first client (in case the caller runs
  under trio; selenium brings it to a development machine); the gateway runs on asyncio: about
  3.6 MiB (with `attrs`, `outcome`, `sortedcontainers`).

Each is marked absent in `sys.modules` before anything imports it; each library treats the
ImportError this gives as "not installed", which is its own supported case.
"""

from __future__ import annotations

import sys

UNUSED = ("httpx._main", "pydantic.v1", "trio")


def skip_unused_imports() -> None:
    """Call before httpx or FastAPI is imported (a module already imported stays)."""
    for name in UNUSED:
        if name not in sys.modules:
            sys.modules[name] = None  # type: ignore[assignment]  # `import name` then raises ImportError
