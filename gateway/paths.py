"""Where the shipped data lives: hall configurations, device profiles, the dashboard.

In a source checkout (and an editable install) they are the repository's top-level `configs/`
and `dashboards/`. A wheel cannot install top-level data folders beside the code, so it ships
them as `gateway/_data/configs` and `gateway/_data/dashboards` (see setup.py). Installed wheels
are always unpacked on disk, so plain paths serve both cases; the check below picks the one that
exists.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent
_SHIPPED = _PACKAGE / "_data"  # inside an installed wheel
_ROOT = _SHIPPED if (_SHIPPED / "configs").is_dir() else _PACKAGE.parent  # else: the repository

CONFIGS_DIR = _ROOT / "configs"
PROFILES_DIR = CONFIGS_DIR / "profiles"
DEMO_CONFIG = CONFIGS_DIR / "demo-hall.yaml"
DASHBOARD_DIR = _ROOT / "dashboards" / "web"
