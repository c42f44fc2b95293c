"""One catalogue for every word a person reads from the API (gateway/i18n/): every error code the
gateway can answer has a Chinese message (found in the code by its raise sites, and in the answers
of a real gateway called as every role), and every state, severity, role and alert kind has a label."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any, get_args

import httpx
import pytest

from drivers.profiles.errors import REASONS
from gateway.alerts.lifecycle import State as AlertState
from gateway.alerts.rules import DEFAULT_SEVERITY
from gateway.api.routes.alerts import Filter
from gateway.commands.request import AUDIT_OUTCOME, HTTP_STATUS
from gateway.config.api import Role
from gateway.domain import discipline, queue, workorders
from gateway.domain.conditions import Severity
from gateway.domain.health import HealthState
from gateway.i18n import zh_CN
from gateway.i18n.catalogue import errors, explain, labels
from gateway.i18n.entry import bare_fields, fill
from gateway.kinds.registry import KINDS
from gateway.runtime import Gateway
from tests.every_role import ROLES, TOKENS, every_role, fill_path, operations
from tests.servers import Mosquitto

ROOT = Path(__file__).resolve().parents[1]
CJK = re.compile(r"[\u4e00-\u9fff]")

# Where a code is the n-th positional argument of a call: ApiError(status, code, detail),
# Refused(status, code, detail), Verdict(outcome, error, detail), desk._finish_now(req, key, outcome, error, ...),
# body(code, detail), explain(code).
CODE_ARG = {"ApiError": 1, "Refused": 1, "Verdict": 1, "_finish_now": 3, "body": 0, "explain": 0}


def codes_in(source: str) -> set[str]:
    """The error codes a module's text can answer with: the constant code of each raise site (with
    its `case`: `forbidden/kiosk`), each `{"error": "..."}` literal, and each lockbox-style
    `Denied(detail, case)` (a `forbidden` case)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Dict):
            for k, v in zip(node.keys, node.values, strict=True):
                literal = isinstance(v, ast.Constant) and isinstance(v.value, str)
                if isinstance(k, ast.Constant) and k.value == "error" and literal:
                    found.add(v.value)  # type: ignore[attr-defined]
        if not isinstance(node, ast.Call):
            continue
        f = node.func
        name = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""
        if name == "Denied" and len(node.args) >= 2 and isinstance(node.args[1], ast.Constant):
            found.add(f"forbidden/{node.args[1].value}")
            continue
        n = CODE_ARG.get(name)
        if n is None or len(node.args) <= n:
            continue
        arg = node.args[n]
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
            # A case from a variable (lockbox's `case=e.case`) is found where it is made (Denied).
            case = next((k.value for k in node.keywords if k.arg == "case"), None)
            named = isinstance(case, ast.Constant)
            found.add(f"{arg.value}/{case.value}" if named else arg.value)  # type: ignore[union-attr]
    return found


def gateway_codes() -> dict[str, list[str]]:
    """Every code found in gateway/ -> the files it is found in."""
    out: dict[str, list[str]] = {}
    for path in sorted((ROOT / "gateway").rglob("*.py")):
        for code in codes_in(path.read_text(encoding="utf-8")):
            out.setdefault(code, []).append(str(path.relative_to(ROOT)))
    return out


def test_the_scan_finds_a_code_however_it_is_raised() -> None:
    source = """
raise ApiError(404, "no_such_thing", "detail")
raise ApiError(403, "forbidden", "d", case="kiosk")
x = Refused(409, "door_taken", "d", door=3)
v = Verdict("failed", "jammed", "d")
await self._finish_now(req, key, "refused", "busy", "d")
body("too_large", "d")
raise Denied("d", "unlock_in_hours", role="staff")
r = {"error": "headers_too_large", "detail": "d"}
ApiError(404, code, "a code from a variable is not a literal")
"""
    assert codes_in(source) == {
        "no_such_thing",
        "forbidden/kiosk",
        "door_taken",
        "jammed",
        "busy",
        "too_large",
        "forbidden/unlock_in_hours",
        "headers_too_large",
    }


def test_every_code_raised_in_the_gateway_has_an_entry() -> None:
    found = gateway_codes()
    # The scan sees the raise sites of the API, the command desk and the kinds.
    assert {"unauthenticated", "forbidden/kiosk", "device_offline", "no_queue", "wrong_code"} <= set(found)
    assert len(found) >= 45, sorted(found)
    table = errors()
    missing = {code: files for code, files in found.items() if code not in table}
    assert missing == {}, "add these codes to gateway/i18n/zh_CN.py or their kind's words.py"


def test_a_command_outcome_without_an_error_code_has_an_entry() -> None:
    """A command's answer says `error or outcome` (gateway/commands/desk.py): every outcome but
    `confirmed` may be the code."""
    table = errors()
    assert {o for o in HTTP_STATUS if o != "confirmed"} - set(table) == set()
    assert set(AUDIT_OUTCOME.values()) | {"refused", "denied"} <= set(labels()["outcome"])


def test_every_entry_reads_in_chinese_and_names_its_specifics_only_where_they_may_be_left_out() -> None:
    for code, entry in errors().items():
        assert CJK.search(entry.message), code
        for template in (entry.message, entry.next or ""):
            assert bare_fields(template) == set(), (code, template)
            assert "{" not in fill(template, {}), (code, template)
        assert code.partition("/")[0].isascii(), code


def test_a_message_names_the_specifics_the_error_carries() -> None:
    said = explain("forbidden", {"role": "viewer", "roles": ("duty_manager", "manager")})
    assert said["message"] == "无权执行此操作：当前角色为查看者"
    assert "值班长、管理人员" in said["next"]
    assert explain("forbidden") == {"message": "无权执行此操作", "next": zh_CN.ERRORS["forbidden"].next.split("]")[1]}
    hours = explain("forbidden", {"case": "unlock_in_hours", "role": "staff", "free": "17:00 后"})
    assert "窗口工作人员" in hours["message"] and "17:00 后" in hours["next"]
    # A code no entry knows (a device's own error text) still gets a Chinese message naming it.
    assert explain("strange_board_error")["message"] == "请求未能完成（strange_board_error）"


def test_a_kind_brings_its_own_entries() -> None:
    """The central table names no kind: a kind's codes come from its package (Kind.errors)."""
    table = errors()
    for kind in KINDS.values():
        for code in kind.errors:
            assert code not in zh_CN.ERRORS, (kind.name, code)
            assert table[code] == kind.errors[code]
    assert any("no_queue" in k.errors for k in KINDS.values())


def test_every_value_the_api_returns_has_a_label() -> None:
    table = labels()
    wanted = {
        "role": set(get_args(Role)),
        "severity": set(get_args(Severity)),
        "health": set(get_args(HealthState)),
        "alert_state": set(get_args(AlertState)) | (set(get_args(Filter)) - {"active"}),
        "alert": set(DEFAULT_SEVERITY),
        "workorder_state": set(workorders.STATES),
        "workorder_action": set(workorders.ACTIONS),
        "queue_event": set(queue.EVENTS),
        "queue_result": set(queue.RESULTS),
        "queue_source": set(queue.SOURCES),
        "quarantine": set(REASONS),
        "violation_kind": set(discipline.KINDS),
        "violation_state": set(discipline.STATES),
        "violation_action": set(discipline.ACTIONS),
        "violation_outcome": set(discipline.OUTCOMES),
    }
    missing = {group: values - set(table.get(group, {})) for group, values in wanted.items()}
    assert {g: v for g, v in missing.items() if v} == {}
    for group, values in table.items():
        for value, text in values.items():
            assert CJK.search(text), (group, value, text)


def test_every_alert_rule_raised_has_a_label() -> None:
    """A Condition's rule or a health Problem's code is the alert's kind on the pages."""
    rules: set[str] = set()
    for path in (ROOT / "gateway").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        # A rule named by a module constant (`LONG_WAIT = "queue_long_wait"`) showed raw on the pages.
        constants = {
            t.id: n.value.value
            for n in tree.body
            if isinstance(n, ast.Assign) and isinstance(n.value, ast.Constant) and isinstance(n.value.value, str)
            for t in n.targets
            if isinstance(t, ast.Name)
        }
        for node in ast.walk(tree):
            named = isinstance(node, ast.Call) and getattr(node.func, "id", None) in ("Condition", "Problem")
            first = node.args[0] if named and node.args else None  # type: ignore[attr-defined]
            if isinstance(first, ast.Constant):
                rules.add(first.value)
            elif isinstance(first, ast.Name) and first.id in constants:
                rules.add(constants[first.id])
    assert len(rules) >= 15 and "queue_long_wait" in rules, rules
    assert rules - set(labels()["alert"]) == set()


def test_every_error_the_api_answers_carries_a_chinese_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mosquitto: Mosquitto
) -> None:
    """Every route called as every role, without a token and with a wrong one, plainly, with a body it refuses and
    with one that is not UTF-8, in a hall with a device of each kind (offline): each error answer
    is `error` (a code the catalogue has), `message` in Chinese, and `detail`."""

    async def body(gw: Gateway, http: httpx.AsyncClient) -> None:
        spec = (await http.get("/openapi.json")).json()
        seen: dict[str, set[int]] = {}
        bad: list[Any] = []
        ids = {"device": "lb", "device_id": "rp", "locker": "lk"}
        for method, path, op in operations(spec):
            url, _ = fill_path(path, op, "", "", ids)
            tries: list[dict[str, Any]] = [{}, {"params": {"start": "yesterday", "nope": "1"}}]
            if method == "POST":
                tries.append({"json": {"note": "n", "reason": "r", "item": "i", "applicant": "a", "code": "1"}})
                tries.append({"json": {"note": 3}})
                tries.append({"content": b"\xc3\x28", "headers": {"Content-Type": "application/json"}})
            for role in (*ROLES, None, "stranger"):
                for kw in tries:
                    token = TOKENS.get(role or "", "not-a-token-of-this-hall")
                    headers = {"Authorization": f"Bearer {token}"} if role else {}
                    headers |= {"Idempotency-Key": "i18n-1"} if role == "duty_manager" else {}
                    extra = {k: v for k, v in kw.items() if k != "headers"}
                    r = await http.request(method, url, headers={**headers, **kw.get("headers", {})}, **extra)
                    if r.status_code < 400:
                        continue
                    doc = r.json()
                    seen.setdefault(doc.get("error"), set()).add(r.status_code)
                    if not (doc.get("error") in errors() and CJK.search(doc.get("message", "")) and "detail" in doc):
                        bad.append((method, path, role, r.status_code, doc))
        for method, path in (("GET", "/api/v1/nowhere"), ("DELETE", "/api/v1/devices")):
            r = await http.request(method, path, headers={"Authorization": f"Bearer {TOKENS['admin']}"})
            seen.setdefault(r.json()["error"], set()).add(r.status_code)
            assert CJK.search(r.json()["message"]), r.text
        assert bad == [], "\n".join(map(str, bad[:20]))
        # The calls reached the checks of the API, the kinds and the command desk.
        reached = {"unauthenticated", "bad_token", "forbidden", "invalid_request", "not_found", "method_not_allowed"}
        reached |= {"idempotency_key_required", "idempotency_key_reused", "device_offline", "unknown_workorder"}
        assert reached <= set(seen), sorted(seen)

    every_role(tmp_path, monkeypatch, body, mosquitto)


def test_a_validation_error_names_the_field_in_chinese(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async def body(gw: Gateway, http: httpx.AsyncClient) -> None:
        admin = {"Authorization": f"Bearer {TOKENS['admin']}"}
        mgr = {"Authorization": f"Bearer {TOKENS['manager']}"}
        r = await http.get("/api/v1/audit", params={"limit": "many"}, headers=admin)
        assert r.status_code == 422
        assert r.json()["error"] == "invalid_request"
        assert r.json()["message"] == "请求内容有误：limit 应为整数", r.text
        assert r.json()["detail"] == "query.limit：'many' 不是整数：请填整数 (int_parsing)", r.text
        r = await http.get("/api/v1/audit", params={"limit": "many"}, headers={**admin, "Accept-Language": "en"})
        assert r.json()["detail"].startswith("query.limit: "), r.text  # the English detail, for who asks
        r = await http.get("/api/v1/queue/visits", params={"start": "2026-12-07", "end": "2026-12-01"}, headers=mgr)
        assert r.json()["message"] == "请求内容有误：end 早于 start", r.text
        r = await http.get("/api/v1/nowhere", headers=admin)
        assert (r.status_code, r.json()["message"]) == (404, "没有这个地址：/api/v1/nowhere")
        r = await http.delete("/api/v1/devices", headers=admin)
        assert r.status_code == 405 and r.json()["message"] == "此地址不支持该请求方法（允许：GET）", r.text
        r = await http.get("/api/v1/devices", headers={"Authorization": f"Bearer {TOKENS['viewer']}x"})
        assert r.json()["message"] == "令牌无效：本厅没有配置这个令牌" and r.json()["next"], r.text

    every_role(tmp_path, monkeypatch, body)


def test_every_route_and_tag_in_docs_has_chinese_beside_the_english(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def body(gw: Gateway, http: httpx.AsyncClient) -> None:
        spec = (await http.get("/openapi.json")).json()
        ops = [(m.upper(), p, op) for p, ops in spec["paths"].items() for m, op in ops.items()]
        assert len(ops) >= 30, len(ops)
        lacking = []
        for method, path, op in ops:
            zh, sep, en = op.get("summary", "").partition(" / ")
            if not (sep and CJK.search(zh) and en):
                lacking.append((method, path, op.get("summary")))
        assert lacking == [], "add the route to the labels' `route` group (zh_CN.py or its kind's words.py)"
        # Every operation's description and every tag's are Chinese too (the English beside them).
        assert [(m, p) for m, p, op in ops if not CJK.search(op.get("description", ""))] == []
        used = {t for _, _, op in ops for t in op.get("tags", ())}
        described = {t["name"]: t.get("description", "") for t in spec.get("tags", [])}
        assert [t for t in sorted(used) if not CJK.search(described.get(t, ""))] == [], described
        # Every route the catalogue names exists (a renamed route leaves no stale summary behind).
        assert set(labels()["route"]) <= {f"{m} {p}" for m, p, _ in ops}

    every_role(tmp_path, monkeypatch, body)


def test_the_pages_get_their_words_from_the_catalogue_without_a_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One table: the pages' words are served from gateway/i18n/ (hallgate.js holds none), before
    anyone has signed in; the API's labels and error messages come with them."""

    async def body(gw: Gateway, http: httpx.AsyncClient) -> None:
        doc = (await http.get("/api/v1/words")).json()
        assert doc["pages"]["login"] == ["登录", "Log in"]
        assert doc["labels"]["role"]["duty_manager"] == "值班长"
        assert doc["errors"]["forbidden"]["message"] == zh_CN.ERRORS["forbidden"].message
        r = await http.get("/web/words.js")
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/javascript")
        assert r.text.startswith("window.HG_WORDS = {") and '"login": ["登录", "Log in"]' in r.text
        page = ROOT / "dashboards" / "web"
        script = (page / "hallgate.js").read_text(encoding="utf-8")
        assert "登录" not in script and "window.HG_WORDS" in script
        for html in page.glob("*.html"):
            text = html.read_text(encoding="utf-8")
            assert text.index("/web/words.js") < text.index("/web/hallgate.js"), html.name

    every_role(tmp_path, monkeypatch, body)
