"""GET /api/v1/kinds: the registered kinds as the pages need them (their label, what they add to
which page), read from the registry, so the pages name no kind (tests/test_architecture.py)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from gateway.kinds.base import Kind
from gateway.kinds.registry import KINDS, register
from gateway.runtime import Gateway
from tests.test_api_surface import MANAGER, STAFF, VIEWER, run

# A kind the pages have never heard of, that asks for the slot grid on the staff page.
SHELF = Kind(name="key_shelf", description="key shelf (钥匙架)", label="钥匙架", pages={"staff": "slots"})


@pytest.fixture
def shelf() -> Iterator[Kind]:
    register(SHELF)
    try:
        yield SHELF
    finally:
        del KINDS[SHELF.name]


def test_every_reference_kind_has_a_chinese_label() -> None:
    assert [k.name for k in KINDS.values() if not re.search(r"[\u4e00-\u9fff]", k.label)] == []


def test_the_kinds_come_from_the_registry_for_every_role(
    shelf: Kind, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def body(gw: Gateway, http: httpx.AsyncClient) -> None:
        for token in (MANAGER, STAFF, VIEWER):
            r = await http.get("/api/v1/kinds", headers={"Authorization": f"Bearer {token}"})
            assert r.status_code == 200, r.text
            got = {k["name"]: k for k in r.json()}
            assert list(got) == list(KINDS)  # every registered kind, in the registry's order
            assert got["key_shelf"] == {
                "name": "key_shelf",
                "label": "钥匙架",
                "description": "key shelf (钥匙架)",
                "pages": {"staff": "slots"},
            }
            assert {n: k["label"] for n, k in got.items()} == {n: k.label for n, k in KINDS.items()}
            staff = {n: k["pages"]["staff"] for n, k in got.items() if "staff" in k["pages"]}
            assert staff == {n: k.pages["staff"] for n, k in KINDS.items() if "staff" in k.pages}
            assert set(staff.values()) == {"slots", "doors"}  # the staff page's two fragments
        refused = await http.get("/api/v1/kinds")
        assert refused.status_code == 401 and refused.json()["error"] == "unauthenticated", refused.text
        spec = (await http.get("/openapi.json")).json()
        assert {"401", "403", "422"} <= set(spec["paths"]["/api/v1/kinds"]["get"]["responses"])

    run(tmp_path, monkeypatch, body)
