"""Who may call what: every route of the OpenAPI document against every role, from one table.

The table is the decision. A route the document has and the table lacks fails the test, so a new
route cannot reach the wall screen's `viewer` (a link on a PC in the public hall) or a kiosk
without someone deciding it. Each role is asked for real, against a gateway with a device of each
kind a route looks up (tests/every_role.py): a refused role gets 403
`forbidden`, an allowed one anything but 401/403 `forbidden`. Bodies are left empty (422 before
anything happens) where the route checks roles before it reads the body.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from gateway.runtime import Gateway
from tests.every_role import KIOSK_TOKEN, ROLES, TOKENS, every_role
from tests.servers import Mosquitto

ALL_ROLES = (*ROLES, "kiosk")
READERS = frozenset({"technician", "staff", "duty_manager", "manager", "admin"})
PUBLIC = READERS | {"viewer"}  # the wall's figures: no staff id, name or case number
MANAGERS = frozenset({"duty_manager", "manager"})
ANYONE = frozenset(ALL_ROLES)

# (method, path as in the OpenAPI document, query) -> the roles that pass. One row per route at
# least; a route whose answer depends on a parameter has a row per decision.
TABLE: dict[tuple[str, str, str], frozenset[str]] = {
    ("GET", "/healthz", ""): ANYONE,
    ("GET", "/readyz", ""): ANYONE,
    ("GET", "/metrics", ""): ANYONE,
    ("GET", "/api/v1/me", ""): ANYONE,
    ("GET", "/api/v1/words", ""): ANYONE,  # the catalogue: the sign-in box needs it before any token
    ("GET", "/api/v1/staff", ""): PUBLIC,  # the registry: the viewer gets names masked, no ids
    ("POST", "/api/v1/staff", ""): frozenset({"admin"}),  # a change to the registry
    ("POST", "/api/v1/session", ""): ANYONE,  # sign-in by name and password: before any token
    ("DELETE", "/api/v1/session", ""): ANYONE,  # sign-out: ends the cookie's session, if any
    ("GET", "/api/v1/kinds", ""): PUBLIC,
    ("GET", "/api/v1/features", ""): PUBLIC,
    ("GET", "/api/v1/occupancy", ""): PUBLIC,
    ("GET", "/api/v1/occupancy/hall", ""): PUBLIC,
    ("GET", "/api/v1/occupancy/history", ""): PUBLIC,
    ("GET", "/api/v1/occupancy/history/export", ""): READERS,  # the manager page's 导出
    ("GET", "/api/v1/occupancy/stream", ""): PUBLIC,
    ("GET", "/api/v1/queue", ""): PUBLIC,
    ("GET", "/api/v1/queue/summary", ""): PUBLIC,
    ("GET", "/api/v1/queue/summary", "by=line"): PUBLIC,
    ("GET", "/api/v1/queue/summary", "by=staff"): READERS,
    ("GET", "/api/v1/queue/visits", ""): MANAGERS,
    ("GET", "/api/v1/ratings/summary", ""): PUBLIC,
    ("GET", "/api/v1/ratings/summary", "by=zone"): PUBLIC,
    ("GET", "/api/v1/ratings/summary", "by=item"): PUBLIC,
    ("GET", "/api/v1/ratings/summary", "by=window"): READERS,
    ("GET", "/api/v1/ratings/summary", "by=staff"): READERS,
    ("GET", "/api/v1/ratings/summary", "window=W01"): READERS,
    ("GET", "/api/v1/ratings", ""): READERS,
    ("GET", "/api/v1/ratings/summary/export", ""): READERS,
    ("GET", "/api/v1/ratings/summary/export", "by=window"): READERS,
    ("GET", "/api/v1/ratings/bad", ""): PUBLIC,  # 差评 and their handling, without who, where, which case
    ("GET", "/api/v1/workorders", ""): READERS,
    ("GET", "/api/v1/workorders/export", ""): READERS,
    ("GET", "/api/v1/workorders/{order_id}", ""): READERS,
    ("POST", "/api/v1/workorders/{order_id}/{action}", ""): MANAGERS,
    ("GET", "/api/v1/attendance/posts", ""): PUBLIC,  # the viewer's with masked names, no staff ids
    ("GET", "/api/v1/attendance/daily", ""): MANAGERS,
    ("GET", "/api/v1/attendance/daily/export", ""): MANAGERS,
    ("GET", "/api/v1/alerts", ""): READERS,
    ("POST", "/api/v1/alerts/{alert_id}/ack", ""): frozenset({"technician", *MANAGERS}),
    ("POST", "/api/v1/alerts/{alert_id}/close", ""): frozenset({"technician", *MANAGERS}),
    ("GET", "/api/v1/audit", ""): frozenset({"manager", "admin"}),
    ("GET", "/api/v1/devices", ""): READERS,
    ("GET", "/api/v1/devices/unknown", ""): READERS,
    ("GET", "/api/v1/devices/{device_id}", ""): READERS,
    ("GET", "/api/v1/quarantine", ""): frozenset({"technician", "admin"}),
    ("GET", "/api/v1/lockboxes/compliance", ""): MANAGERS,
    ("GET", "/api/v1/violations", ""): PUBLIC,  # names and staff ids masked but for managers and the person
    ("GET", "/api/v1/violations/strikes", ""): MANAGERS,
    ("GET", "/api/v1/violations/exposure", ""): PUBLIC,  # 大厅公示: names masked, no staff id
    ("POST", "/api/v1/violations/{violation_id}/confirm", ""): MANAGERS,
    ("POST", "/api/v1/violations/{violation_id}/dismiss", ""): MANAGERS,
    ("POST", "/api/v1/violations/{violation_id}/appeal", ""): frozenset({"staff", *MANAGERS}),  # the person's
    ("POST", "/api/v1/violations/{violation_id}/decide", ""): MANAGERS,
    ("POST", "/api/v1/violations", ""): MANAGERS,  # a patrol's record (巡查: duty managers' accounts)
    ("GET", "/api/v1/violations/summary", ""): MANAGERS,
    ("POST", "/api/v1/violations/{violation_id}/photo", ""): MANAGERS,
    ("GET", "/api/v1/violations/{violation_id}/photo", ""): MANAGERS,  # not the person's own either
    ("POST", "/api/v1/violations/{violation_id}/notice", ""): MANAGERS,
    ("GET", "/api/v1/notices", ""): frozenset({"staff", *MANAGERS}),  # staff: their own only
    ("POST", "/api/v1/notices/{notice_id}/ack", ""): frozenset({"staff"}),  # the person signs, nobody for them
    ("GET", "/api/v1/violations/mine", ""): frozenset({"staff"}),  # a person's own records, nobody else's
    ("GET", "/api/v1/violations/{violation_id}", ""): MANAGERS,  # one record, its trail: audited
    ("GET", "/api/v1/violations/export", ""): MANAGERS,  # the ledger as shown, as a file: audited
    ("GET", "/api/v1/violations/departments", ""): MANAGERS,  # per person: named
    ("GET", "/api/v1/violations/reads", ""): frozenset({"manager", "admin"}),  # who read the named ledger
    ("POST", "/api/v1/reports", ""): frozenset({"manager", "admin"}),
    ("GET", "/api/v1/reports", ""): frozenset({"manager", "admin"}),
    ("GET", "/api/v1/reports/schedule", ""): frozenset({"manager", "admin"}),
    ("GET", "/api/v1/reports/{ref}", ""): frozenset({"manager", "admin"}),
    ("GET", "/api/v1/lockboxes/{device}/slots", ""): READERS,
    ("POST", "/api/v1/lockboxes/{device}/slots/{slot}/unlock", ""): frozenset({"staff", "duty_manager"}),
    ("POST", "/api/v1/lockers/{locker}/doors/{door}/deposit", ""): frozenset({"staff", "duty_manager"}),
    ("GET", "/api/v1/lockers/{locker}/items", ""): frozenset({"staff", "duty_manager", "manager", "admin"}),
    ("POST", "/api/v1/lockers/{locker}/pickup", ""): frozenset({"kiosk"}),
}
IDS = {
    "{order_id}": "1",
    "{action}": "callback",
    "{alert_id}": "1",
    "{device_id}": "rp",
    "{device}": "lb",
    "{slot}": "1",
    "{locker}": "lk",
    "{door}": "1",
    "{ref}": "1",
}
# The pickup route reads its body before it knows the caller is no kiosk of its locker: a well-formed
# one (a wrong code: 403 `wrong_code`, not `forbidden`). Every other route refuses before the body.
BODIES = {"/api/v1/lockers/{locker}/pickup": {"code": "000000"}}


def _headers(role: str) -> dict[str, str]:
    token = KIOSK_TOKEN if role == "kiosk" else TOKENS[role]
    return {"Authorization": f"Bearer {token}", "Idempotency-Key": "roles-1"}


def _url(path: str, query: str) -> str:
    for name, value in IDS.items():
        path = path.replace(name, value)
    return f"{path}?{query}" if query else path


async def _status(http: httpx.AsyncClient, method: str, path: str, query: str, role: str) -> tuple[int, str]:
    url = _url(path, query)
    if path.endswith("/stream"):  # the status and headers only: the stream runs until the gateway stops
        async with http.stream(method, url, headers=_headers(role)) as r:
            return r.status_code, "" if r.status_code == 200 else (await r.aread()).decode()
    r = await http.request(method, url, headers=_headers(role), json=BODIES.get(path, {}) if method == "POST" else None)
    return r.status_code, r.text


def night_zone() -> str:
    """A fixed-offset zone where it is 03:xx now: the hall is outside its working hours (09:00-17:00)
    whatever hour the suite runs at, so the lockbox's rule by the hour refuses no role the table
    lets in (at 09:02 hall time it refused the staff's unlock). Etc/GMT-8 is UTC+8."""
    offset = (3 - datetime.now(UTC).hour + 12) % 24 - 12
    return f"Etc/GMT{-offset:+d}" if offset else "Etc/GMT"


def test_every_route_answers_every_role_as_the_table_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mosquitto: Mosquitto
) -> None:
    async def body(gw: Gateway, http: httpx.AsyncClient) -> None:
        spec = (await http.get("/openapi.json")).json()
        routes = {(m.upper(), p) for p, ops in spec["paths"].items() for m in ops}
        decided = {(m, p) for m, p, _ in TABLE}
        assert routes - decided == set(), "routes without a decision in TABLE: who may call them?"
        assert decided - routes == set(), "TABLE rows for routes the API no longer has"

        wrong = []
        for (method, path, query), allowed in TABLE.items():
            for role in ALL_ROLES:
                status, text = await _status(http, method, path, query, role)
                refused = status == 403 and '"forbidden"' in text
                if refused == (role in allowed) or status == 401:
                    wrong.append((method, path, query, role, status, text[:160]))
        assert wrong == [], "\n".join(map(str, wrong))

        # A refusal names the roles that may (the page shows it; an integrator knows whom to ask).
        r = await http.get("/api/v1/audit", headers=_headers("viewer"))
        assert "管理人员" in r.json()["detail"] and "系统管理员" in r.json()["detail"], r.text
        r = await http.get("/api/v1/ratings/summary?by=staff", headers=_headers("viewer"))
        assert "值班长" in r.json()["detail"], r.text

        # The pages hide what /me does not list: the viewer's list is the table's public rows.
        may = set((await http.get("/api/v1/me", headers=_headers("viewer"))).json()["may"])
        public = {f"{m} {p}" for (m, p, _), allowed in TABLE.items() if "viewer" in allowed and p.startswith("/api/")}
        assert may == public

    every_role(tmp_path, monkeypatch, body, mosquitto, extra=f"timezone: {night_zone()}\n")
