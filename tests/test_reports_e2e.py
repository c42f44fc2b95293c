"""Operations reports end to end: a small hall (a queue system playing a day at full speed, its
rating pads prompted after each visit, an attendance machine) on a real Mosquitto and the
gateway; a day's report asked for through the API. Its figures equal those worked out here from
the raw events a `mosquitto_sub` saw (queue, ratings, attendance), and the XLSX read back with
openpyxl holds the same values as numbers."""

from __future__ import annotations

import asyncio
import io
import json
import statistics
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import openpyxl
import pytest

from firmware_sim.hall import HallSimulator
from firmware_sim.mqtt_device import MqttSettings
from gateway.cli import main
from gateway.config.load import load_config
from gateway.runtime import start_gateway
from tests.servers import Mosquitto, free_port
from tests.sim_support import MqttWatcher
from tests.waits import until

SITE = "rep-hall"
TOKEN = "reports-manager-token-0123456789abc"
TECH = "reports-technician-token-0123456789"
DAY = "2026-12-02"  # a Wednesday (ISO week 2026-W49), in the past whenever the test runs
PREVIOUS_WEEK = "2026-11-25"
PADS = {"rp-w01": "W01", "rp-w02": "W02", "rp-w03": "W03"}
QUEUE_EVENT = f"hall/{SITE}/queue/q-1/event"
RESULTS = ("done", "pending_materials", "rejected")


def at(clock: str) -> str:
    return f"{DAY}T{clock}+08:00"


def hall_file(tmp_path: Path, mosquitto: Mosquitto, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HALLGATE_TOKEN_MANAGER", TOKEN)
    monkeypatch.setenv("HALLGATE_TOKEN_TECH", TECH)
    pads = "\n".join(
        f"  - {{id: {d}, kind: rating_pad, profile: ref-rating-pad, window: {w}, zone: hall}}" for d, w in PADS.items()
    )
    hall = tmp_path / "hall.yaml"
    hall.write_text(f"""
site: {SITE}
name: 测试大厅
timezone: Asia/Shanghai
api:
  port: {free_port()}
  tokens: [{{role: manager, env: HALLGATE_TOKEN_MANAGER, name: 李经理}}, {{role: technician, env: HALLGATE_TOKEN_TECH}}]
broker: {{host: 127.0.0.1, port: {mosquitto.port}}}
store: {{path: {tmp_path}/outbox.sqlite}}
working_hours: {{days: [mon, tue, wed, thu, fri], start: "09:00", end: "17:00"}}
zones: [{{id: hall, capacity: 100}}]
posts: [{{window: W01, a: S0101, b: S0102}}, {{window: W02, a: S0103}}]
attendance: {{lunch: null}}
devices:
{pads}
  - {{id: q-1, kind: queue, profile: ref-queue}}
  - {{id: att-1, kind: attendance, profile: ref-attendance}}
""")
    return hall


def simulator(mosquitto: Mosquitto) -> HallSimulator:
    devices: list[dict[str, Any]] = [{"id": d, "kind": "rating_pad", "window": w} for d, w in PADS.items()]
    devices.append({"id": "q-1", "kind": "queue", "sim": {"windows": 4, "tickets": 60, "speed": "full", "date": DAY}})
    devices.append({"id": "att-1", "kind": "attendance"})
    return HallSimulator(
        {"site": SITE, "devices": devices}, mqtt=MqttSettings(port=mosquitto.port), rate_per_min=0, state_dir=None
    )


# -- the figures worked out from the raw events -----------------------------------------------------


def ns(ts: str) -> int:
    return int(datetime.fromisoformat(ts).timestamp() * 1000) * 10**6


def queue_figures(events: list[dict[str, Any]]) -> dict[str, Any]:
    """Tickets issued, served, no-shows, transfers; waiting (queued in a line to its first call
    there) and handling (start to a served finish) per transaction, in minutes."""
    issued = [e for e in events if e["type"] == "issued"]
    served = [e for e in events if e["type"] == "finished" and e["result"] in RESULTS]
    queued: dict[str, int] = {}  # ticket -> when it joined its current line, until its first call there
    started: dict[str, int] = {}
    waits: list[float] = []
    handles: list[float] = []
    for e in sorted(events, key=lambda e: (ns(e["ts"]), e["seq"])):
        t, when = e["ticket"], ns(e["ts"])
        if e["type"] in ("issued", "transferred"):
            queued[t] = when
        elif e["type"] == "called" and t in queued:
            waits.append(max(0, when - queued.pop(t)) / 1e9)
        elif e["type"] == "started":
            started[t] = when
        elif e["type"] == "finished" and e["result"] in RESULTS and t in started:
            handles.append(max(0, when - started.pop(t)) / 1e9)
    by_window: dict[str, int] = {}
    for e in served:
        by_window[e["window"]] = by_window.get(e["window"], 0) + 1
    return {
        "calls.tickets": len(issued),
        "calls.served": len(served),
        "calls.no_shows": sum(e["type"] == "no_show" for e in events),
        "calls.transfers": sum(e["type"] == "transferred" for e in events),
        "calls.waiting_mean": statistics.fmean(waits) / 60,
        "calls.waiting_median": statistics.median(waits) / 60,
        "calls.waiting_p90": statistics.quantiles(waits, n=10, method="inclusive")[8] / 60,
        "calls.handling_mean": statistics.fmean(handles) / 60,
        "calls.handling_median": statistics.median(handles) / 60,
        "calls.handling_p90": statistics.quantiles(handles, n=10, method="inclusive")[8] / 60,
        "served_by_window": by_window,
        "served_cases": {e["case_id"] for e in served},
    }


def rating_figures(pads: list[dict[str, Any]], served_cases: set[str]) -> dict[str, Any]:
    rated = [p for p in pads if p["type"] == "rated"]
    good = sum(p["score"] in (4, 5) for p in rated)
    return {
        "ratings.rated": len(rated),
        "ratings.rating_rate": round(len({p["case_id"] for p in rated} & served_cases) / len(served_cases), 4),
        "ratings.good_rate": round(good / len(rated), 4),
        "ratings.bad": sum(p["score"] in (1, 2) for p in rated),
        "ratings.mean": round(sum(p["score"] for p in rated) / len(rated), 3),
        "orders.opened": sum(p["score"] in (1, 2) for p in rated),
    }


# -- the test ---------------------------------------------------------------------------------------


def test_a_days_report_equals_the_figures_from_the_raw_events(
    mosquitto: Mosquitto, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    hall = hall_file(tmp_path, mosquitto, monkeypatch)
    with MqttWatcher(mosquitto.port, f"hall/{SITE}/#") as watch:
        asyncio.run(_day(hall, mosquitto, watch))
    # the CLI, from the state database the gateway left: the same figures, progress in Chinese
    out = tmp_path / "out"
    assert main(["report", "-c", str(hall), "--kind", "day", "--period", DAY, "--out", str(out)]) == 0
    said = capsys.readouterr().out
    assert "统计指标" in said and "已写入" in said and "完成" in said
    files = sorted(p.name for p in out.iterdir())
    assert f"report-day-{DAY}.json" in files and f"report-day-{DAY}.xlsx" in files
    cli = json.loads((out / f"report-day-{DAY}.json").read_text())
    api = json.loads((tmp_path / "reports" / "1" / "report.json").read_text())
    assert [s["figures"] for s in cli["sections"]] == [s["figures"] for s in api["sections"]]
    assert cli["by"] == "cli" and api["by"] == "李经理"


async def _day(hall: Path, mosquitto: Mosquitto, watch: MqttWatcher) -> None:
    cfg = load_config(hall)
    sim = simulator(mosquitto)
    q = sim.device("q-1")
    att = sim.device("att-1")
    http = httpx.AsyncClient(base_url=f"http://127.0.0.1:{cfg.api.port}", headers={"Authorization": f"Bearer {TOKEN}"})
    async with http, start_gateway(cfg), sim:
        await q.wait_day(timeout=120)
        # S0101 on time, S0102 late (after 09:00), S0103 (W02's A post) never comes: absent
        for staff, clock, way in (
            ("S0101", "08:50:00", "in"),
            ("S0102", "09:20:00", "in"),
            ("S0101", "17:05:00", "out"),
        ):
            att.emit({"staff_id": staff, "method": "face", "direction": way, "ts": at(clock)})
        # a visit by hand that is transferred to another line: two transactions, one ticket taken
        for fields in (
            {"type": "issued", "ticket": "A990", "line": "A", "item": "社保卡", "source": "walk_in", "ts": "15:00:00"},
            {"type": "called", "ticket": "A990", "window": "W01", "staff_id": "S0101", "ts": "15:03:00"},
            {"type": "transferred", "ticket": "A990", "from_window": "W01", "to_line": "B", "ts": "15:04:00"},
            {"type": "called", "ticket": "A990", "window": "W02", "staff_id": "S0103", "ts": "15:10:30"},
            {"type": "started", "ticket": "A990", "window": "W02", "staff_id": "S0103", "ts": "15:11:00"},
            {"type": "finished", "ticket": "A990", "window": "W02", "staff_id": "S0103", "case_id": "T-990",
             "result": "done", "ts": "15:20:00"},
        ):  # fmt: skip
            q.emit({**fields, "ts": at(fields["ts"])})
        # one visit the week before (the week's report compares with it)
        for kind, clock in (
            ("issued", "10:00:00"),
            ("called", "10:01:00"),
            ("started", "10:01:30"),
            ("finished", "10:09:00"),
        ):
            extra = (
                {"line": "A", "item": "社保卡", "source": "walk_in"}
                if kind == "issued"
                else {"window": "W01", "staff_id": "S0101"}
            )
            if kind == "finished":
                extra |= {"case_id": "T-PREV", "result": "done"}
            q.emit({"type": kind, "ticket": "A001", **extra, "ts": f"{PREVIOUS_WEEK}T{clock}+08:00"})
        for d in (q, att, *(sim.device(p) for p in PADS)):
            await d.wait_sent(timeout=60)
        await watch.wait(lambda ln: ln.topic == QUEUE_EVENT, count=len(q.plan.events) + 10, timeout=60)
        lines = watch.matching(lambda ln: ln.topic.startswith(f"hall/{SITE}/"))
        events = [e for ln in lines if ln.topic == QUEUE_EVENT and (e := ln.json)["ts"].startswith(DAY)]
        pads = [ln.json for ln in lines if "/rating/" in ln.topic and ln.topic.endswith("/event")]
        want = queue_figures(events)
        want.update(rating_figures(pads, want["served_cases"]))
        want.update({"clocking.punches": 3, "clocking.late": 1, "clocking.absent": 1})
        assert want["ratings.rated"] > 10 and want["calls.no_shows"] and want["calls.transfers"] == 1

        async def kept() -> bool:
            s = (await http.get("/api/v1/queue/summary", params={"date": DAY})).json()["total"]
            r = (await http.get("/api/v1/ratings/summary", params={"date": DAY})).json()["total"]
            return s["served"] == want["calls.served"] and r["rated"] == want["ratings.rated"]

        await until(kept, timeout=30, what="every visit and rating kept")
        await until(lambda: _punches_kept(http), timeout=30, what="the punches kept")

        r = await http.post("/api/v1/reports", json={"kind": "day", "period": DAY})
        assert r.status_code == 201, r.text
        row = r.json()
        assert row["status"] == "done", row
        assert {"json", "xlsx"} <= set(row["files"]) and row["by"] and row["period"] == DAY
        report = (await http.get(f"/api/v1/reports/{row['id']}.json")).json()
        got = {f["name"]: f for s in report["sections"] for f in s["figures"]}
        figures = {k: v for k, v in want.items() if "." in k}
        assert set(figures) <= set(got)
        for name, value in figures.items():
            if got[name]["format"] == "minutes":
                assert got[name]["value"] == pytest.approx(value, abs=0.011), name
            else:
                assert got[name]["value"] == value, name
        assert got["orders.satisfaction"]["value"]["code"] == "no_data"  # no order called back yet
        assert got["visitors.entries"]["value"]["code"] == "no_source"  # no people counter: said, never 0
        assert got["lockers.deposits"]["value"]["code"] == "no_source"
        assert got["calls.served"]["previous"]["code"] == "no_data"  # the day before had nothing
        windows = {row[0]: row for s in report["sections"] if s["key"] == "windows" for row in s["tables"][0]["rows"]}
        served_col = [
            c["key"] for s in report["sections"] if s["key"] == "windows" for c in s["tables"][0]["columns"]
        ].index("calls.served")
        assert {w: windows[w][served_col] for w in want["served_by_window"]} == want["served_by_window"]

        # the XLSX holds the same figures as numbers, with their formats
        xlsx = await http.get(f"/api/v1/reports/{row['id']}.xlsx")
        assert xlsx.status_code == 200 and xlsx.headers["content-type"].startswith("application/vnd.openxml")
        wb = openpyxl.load_workbook(io.BytesIO(xlsx.content))
        sheets = {s["title"]: s for s in report["sections"]}
        for title in ("排队叫号", "好差评", "考勤"):
            ws = wb[title]
            assert ws.freeze_panes == "A2"
            for n, f in enumerate(sheets[title]["figures"], 2):
                cell = ws.cell(row=n, column=3)
                assert ws.cell(row=n, column=1).value == f["label"]
                if isinstance(f["value"], dict):
                    assert cell.value is None and f["value"]["reason"] in ws.cell(row=n, column=6).value
                    continue
                assert isinstance(cell.value, int | float) and not isinstance(cell.value, bool), (title, f["label"])
                assert cell.value == pytest.approx(f["value"]), f["label"]
                assert (
                    cell.number_format == {"int": "0", "percent": "0.0%", "minutes": "0.0", "dec1": "0.0"}[f["format"]]
                )

        # the week's: the same day's figures, and the week before's one visit to compare with
        week = (await http.post("/api/v1/reports", json={"kind": "week", "period": "2026-W49"})).json()
        assert week["status"] == "done" and week["start"].startswith("2026-11-30T00:00:00")
        wk = (await http.get(f"/api/v1/reports/{week['id']}.json")).json()
        wf = {f["name"]: f for s in wk["sections"] for f in s["figures"]}
        assert wf["calls.tickets"]["value"] == want["calls.tickets"] and wf["calls.tickets"]["previous"] == 1
        assert wf["calls.tickets"]["last_year"]["code"] == "no_data"
        assert wk["previous"]["label"] == "2026-W48" and wk["last_year"]["label"] == "2025-W49"
        # the month's: 一月一评比 with its weights printed and the red flags marked
        month = (await http.post("/api/v1/reports", json={"kind": "month", "period": "2026-12"})).json()
        ranking = next(
            s
            for s in (await http.get(f"/api/v1/reports/{month['id']}.json")).json()["sections"]
            if s["key"] == "ranking"
        )
        table, weights = ranking["tables"]
        assert [r[0] for r in table["rows"]] == list(range(1, len(table["rows"]) + 1))
        assert [r[3] for r in table["rows"]].count("红旗窗口") == min(3, len(table["rows"]))
        assert [r[2] for r in table["rows"]] == sorted((r[2] for r in table["rows"]), reverse=True)
        assert [r[1] for r in weights["rows"]] == list(cfg.reports.ranking.weights.values())

        # listed; a bad period refused in Chinese naming the forms; a technician may not ask
        listed = (await http.get("/api/v1/reports")).json()
        assert [x["id"] for x in listed] == [month["id"], week["id"], row["id"]]
        bad = await http.post("/api/v1/reports", json={"kind": "week", "period": "2026-12"})
        assert bad.status_code == 422 and bad.json()["error"] == "bad_period" and "2026-W49" in bad.json()["next"]
        future = await http.post("/api/v1/reports", json={"kind": "month", "period": "2999-01"})
        assert future.status_code == 422 and future.json()["error"] == "future_period"
        early = await http.post(
            "/api/v1/reports", json={"kind": "day", "period": "2026-11-24"}
        )  # the day before the first
        assert early.status_code == 422 and early.json()["error"] == "before_data", early.text
        assert "2026-11-25" in early.json()["detail"]
        tech = await http.post(
            "/api/v1/reports", json={"kind": "day", "period": DAY}, headers={"Authorization": f"Bearer {TECH}"}
        )
        assert tech.status_code == 403
        missing = await http.get("/api/v1/reports/999.xlsx")
        assert missing.status_code == 404 and missing.json()["error"] == "unknown_report"


async def _punches_kept(http: httpx.AsyncClient) -> bool:
    r = await http.get("/api/v1/attendance/daily", params={"date": DAY})
    return r.status_code == 200 and sum(p["punches"] for p in r.json()["people"]) == 3
