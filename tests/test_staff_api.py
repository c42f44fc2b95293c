"""`POST /api/v1/staff` (admin): one person added, changed or retired, checked as the configuration's
registry is (the same checks, the same Chinese messages), kept in the state database over the file's
`staff:`, audited with who did it, and read at once through the one read path (`GET /api/v1/staff`,
which the pages load their names from). A real gateway; the state file read again afterwards."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.runtime import Gateway
from gateway.store.journal import Journal
from tests.every_role import TOKENS, every_role

HALL = """posts:
  - {window: W01, a: S1, b: S2}
  - {window: W02, a: S4}
staff:
  - {id: S1, name: 王芳, department: 综合窗口, phone: {device: lb, slot: 1}}
  - {id: S2, name: 李娜, department: 综合窗口}
"""
ADMIN = {"Authorization": f"Bearer {TOKENS['admin']}"}


def test_an_admin_changes_the_registry_checked_audited_and_read_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state: list[Path] = []

    async def body(gw: Gateway, http: httpx.AsyncClient) -> None:
        state.append(gw.cfg.store.state_file)

        async def names() -> dict[str, Any]:
            return {p["id"]: p for p in (await http.get("/api/v1/staff", headers=ADMIN)).json()}

        async def post(**person: Any) -> httpx.Response:
            return await http.post("/api/v1/staff", json=person, headers=ADMIN)

        assert set(await names()) == {"S1", "S2"}
        # Refused as check-config refuses the file: an unknown window, a slot that is someone else's.
        r = await post(id="S3", name="张伟", department="综合窗口", window="W77")
        assert (r.status_code, r.json()["error"]) == (422, "staff_invalid"), r.text
        assert (
            "窗口 'W77' 不是本厅的窗口 ['W01', 'W02'] 之一：请改正或在 posts 中添加 (unknown_window)"
            in r.json()["detail"]
        )
        r = await post(id="S3", name="张伟", phone={"device": "lb", "slot": 1})
        assert r.status_code == 422 and "lb 的 1 号格口已属于 S1" in r.json()["detail"], r.text
        r = await post(id="S2", name="李娜", post="A")  # posts[] makes S2 the B of W01
        assert r.status_code == 422 and "posts[] 却是 W01 B" in r.json()["detail"], r.text
        r = await post(id="S3", name="")
        assert r.status_code == 422 and "name" in r.json()["detail"], r.text
        assert set(await names()) == {"S1", "S2"}  # nothing refused was kept
        # Accepted: visible at once, post and window from posts[].
        r = await post(id="S4", name="张伟", department="税务")
        assert r.status_code == 200, r.text
        s4 = (await names())["S4"]
        assert (s4["name"], s4["department"], s4["window"], s4["post"]) == ("张伟", "税务", "W02", "A")
        r = await post(id="S1", name="王芳芳", department="综合窗口", phone={"device": "lb", "slot": 1})
        assert r.status_code == 200 and (await names())["S1"]["name"] == "王芳芳"
        # The wall reads the same registry, masked.
        wall = (await http.get("/api/v1/staff", headers={"Authorization": f"Bearer {TOKENS['viewer']}"})).json()
        assert sorted(p["name"] for p in wall) == ["张*", "李*", "王**"], wall
        # Retired: gone; retiring someone the registry does not have is a 404.
        r = await post(id="S2", name="李娜", active=False)
        assert r.status_code == 200 and set(await names()) == {"S1", "S4"}, r.text
        r = await post(id="S9", name="无名", active=False)
        assert (r.status_code, r.json()["error"]) == (404, "unknown_staff"), r.text
        # Audited with who did it (the token's holder as the audit names it), a row per accepted change.
        audit = (await http.get("/api/v1/audit", params={"device": "staff"}, headers=ADMIN)).json()
        assert [(a["action"], a["part"], a["actor"]) for a in reversed(audit)] == [
            ("staff_add", "S4", "HOSTILE_ADMIN"),
            ("staff_update", "S1", "HOSTILE_ADMIN"),
            ("staff_retire", "S2", "HOSTILE_ADMIN"),
        ], audit

    every_role(tmp_path, monkeypatch, body, extra=HALL)
    # Kept in the state database: a gateway started again reads the same registry.
    journal = Journal(state[0])
    try:
        kept = {e["id"]: (e["name"], active) for e, active in journal.repos.staff.entries()}
    finally:
        journal.close()
    assert kept == {"S4": ("张伟", True), "S1": ("王芳芳", True), "S2": ("李娜", False)}
