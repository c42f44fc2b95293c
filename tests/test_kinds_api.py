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

# A kind the pages have never heard of, that brings a slot grid to the staff page (the reference
# cabinet's script: its own would do the same).
SLOTS = next(k.pages["staff"] for k in KINDS.values() if "staff" in k.pages and k.pages["staff"].name == "slots")
SHELF = Kind(name="key_shelf", description="key shelf (钥匙架)", label="钥匙架", pages={"staff": SLOTS})


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
                "devices": 0,
                "pages": {"staff": "slots"},
                "fragments": {
                    "staff": {
                        "name": "slots",
                        "script": "/web/fragments/key_shelf/slots.js",
                        "style": None,
                        "routes": dict(SLOTS.routes),
                        "needs": list(SLOTS.needs),
                    }
                },
            }
            assert {n: k["label"] for n, k in got.items()} == {n: k.label for n, k in KINDS.items()}
            staff = {n: k["pages"]["staff"] for n, k in got.items() if "staff" in k["pages"]}
            assert staff == {n: k.pages["staff"].name for n, k in KINDS.items() if "staff" in k.pages}
            assert set(staff.values()) == {"slots", "doors"}  # the staff page's two fragments
        refused = await http.get("/api/v1/kinds")
        assert refused.status_code == 401 and refused.json()["error"] == "unauthenticated", refused.text
        spec = (await http.get("/openapi.json")).json()
        assert {"401", "403", "422"} <= set(spec["paths"]["/api/v1/kinds"]["get"]["responses"])

    run(tmp_path, monkeypatch, body)


def test_each_fragment_is_served_from_its_kind_and_nothing_else_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GET /web/fragments/<kind>/<name>.js gives the script the kind's package holds (and its .css,
    if it has one), without a token like the pages' own files; a name no kind declares is a 404."""

    async def body(gw: Gateway, http: httpx.AsyncClient) -> None:
        listed = (await http.get("/api/v1/kinds", headers={"Authorization": f"Bearer {VIEWER}"})).json()
        served = 0
        for k in listed:
            for page, f in k["fragments"].items():
                declared = KINDS[k["name"]].pages[page]
                for url, path in ((f["script"], declared.script), (f["style"], declared.style)):
                    if url is None:
                        continue
                    r = await http.get(url)
                    assert r.status_code == 200 and r.text == path.read_text(encoding="utf-8"), url
                    kind_of_file = "text/javascript" if url.endswith(".js") else "text/css"
                    assert r.headers["content-type"].startswith(kind_of_file), url
                    served += 1
        assert served >= 3
        some = next(k for k in listed if k["fragments"])
        page, f = next(iter(some["fragments"].items()))
        for url in (
            f"/web/fragments/{some['name']}/nothing.js",
            f"/web/fragments/no_such_kind/{f['name']}.js",
            f["script"].replace(".js", ".py"),
            f["script"].replace(".js", ".css") if f["style"] is None else f["script"].replace(".js", ".html"),
        ):
            r = await http.get(url)
            assert r.status_code == 404 and r.json()["error"] == "not_found", url

    run(tmp_path, monkeypatch, body)
