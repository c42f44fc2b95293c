"""A large hall's day (3,000 tickets, 30 windows) from the simulator's seeded day model, played at
full speed through a real Mosquitto into the gateway: every figure of `GET /api/v1/queue/summary`
(the total and each group by line, window, staff, item and hour) equals the figure worked out here
from the events a `mosquitto_sub` saw, by a model of its own written in this file (nothing of
gateway/domain/queue.py is used to work the figures out).

The figures are worked out exactly (fractions of milliseconds) and rounded the way the API says:
seconds to 0.1, the appointment share to 4 places; percentiles interpolate linearly between the
closest ranks (p90 of n values: rank (n - 1) x 0.9)."""

from __future__ import annotations

import asyncio
import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from firmware_sim.hall import HallSimulator
from firmware_sim.kinds.queue import QueueSystem
from firmware_sim.mqtt_device import MqttSettings
from gateway.config.load import load_config
from gateway.runtime import start_gateway
from tests.servers import Mosquitto, free_port
from tests.sim_support import MqttWatcher, on
from tests.waits import until

SITE = "big-hall"
BASE = f"hall/{SITE}/queue/q-1"
TZ = ZoneInfo("Asia/Shanghai")
TOKEN = "queue-large-day-duty-manager-token-0123"
DAY = "2026-12-07"
PERIOD = {"start": DAY, "end": "2026-12-08"}
SERVED = ("done", "pending_materials", "rejected")
GROUPS = ("line", "window", "staff", "item", "hour")


@dataclass
class Tx:
    """One transaction of a ticket: from its issue (or transfer into a line) to its outcome."""

    line: str
    item: str
    source: str
    queued: datetime | None
    first_call: datetime | None = None
    started: datetime | None = None
    ended: datetime | None = None
    window: str = ""
    staff: str = ""
    outcome: str = ""


@dataclass
class Ticket:
    txs: list[Tx] = field(default_factory=list)
    issued: bool = False


def ms(a: datetime, b: datetime) -> int:
    return (b - a) // timedelta(milliseconds=1)  # the events' times are to the millisecond


def tickets_from(events: list[dict[str, Any]]) -> list[Ticket]:
    """The day's tickets, replayed from the events in the order the subscriber saw them."""
    tickets: dict[tuple[str, str], Ticket] = {}
    for e in events:
        at = datetime.fromisoformat(e["ts"])
        key = (at.astimezone(TZ).date().isoformat(), e["ticket"])
        kind = e["type"]
        if kind == "issued":
            assert key not in tickets, f"{key} issued twice: this model counts a clean day"
            tickets[key] = Ticket([Tx(e["line"], e["item"], e["source"], at)], issued=True)
            continue
        if key not in tickets:  # a call for a ticket never issued: counted, in its letters' line
            tickets[key] = Ticket([Tx("".join(c for c in e["ticket"] if c.isalpha()), "", "", None)])
        t = tickets[key].txs[-1]
        if kind == "called":
            t.first_call = t.first_call or at
            t.window, t.staff = e["window"], e["staff_id"]
        elif kind == "started":
            t.started, t.window, t.staff = at, e["window"], e["staff_id"]
        elif kind == "finished":
            t.ended, t.outcome, t.window, t.staff = at, e["result"], e["window"], e["staff_id"]
        elif kind == "no_show":
            t.outcome, t.window = "no_show", e["window"]
        elif kind == "transferred":
            t.outcome, t.window = "transferred", e["from_window"]
            tickets[key].txs.append(Tx(e["to_line"], t.item, t.source, at))
        else:
            raise AssertionError(f"unknown event {e}")
    return list(tickets.values())


def seconds(value: Fraction) -> float:
    return round(float(value / 1000), 1)  # float() of a fraction is the nearest double: exact to its rounding


def spread(values_ms: list[int]) -> dict[str, float | None]:
    if not values_ms:
        return {"mean_s": None, "median_s": None, "p90_s": None}
    v = sorted(values_ms)

    def rank(q: int) -> Fraction:
        pos = Fraction((len(v) - 1) * q, 100)
        lo = math.floor(pos)
        hi = min(lo + 1, len(v) - 1)
        return v[lo] + (v[hi] - v[lo]) * (pos - lo)

    return {"mean_s": seconds(Fraction(sum(v), len(v))), "median_s": seconds(rank(50)), "p90_s": seconds(rank(90))}


def figures(rows: list[tuple[Ticket, int, Tx]]) -> dict[str, Any]:
    """The summary's figures over some transactions (each with its ticket and its place in it)."""
    first = [(tk, t) for tk, i, t in rows if i == 0]
    issued = sum(tk.issued for tk, _ in first)
    appointments = sum(tk.issued and t.source == "appointment" for tk, t in first)
    return {
        "tickets": len(rows),
        "issued": issued,
        "served": sum(t.outcome in SERVED for _, _, t in rows),
        "no_shows": sum(t.outcome == "no_show" for _, _, t in rows),
        "transfers": sum(t.outcome == "transferred" for _, _, t in rows),
        "unissued": sum(not tk.issued for tk, _ in first),
        "appointment_share": round(appointments / issued, 4) if issued else None,
        "waiting": spread([ms(t.queued, t.first_call) for _, _, t in rows if t.queued and t.first_call]),
        "handling": spread(
            [ms(t.started, t.ended) for _, _, t in rows if t.outcome in SERVED and t.started and t.ended]
        ),
    }


def group(tx: Tx, by: str) -> str:
    if by == "hour":
        at = tx.queued or tx.first_call
        return "" if at is None else f"{at.astimezone(TZ).hour:02d}"
    return str(getattr(tx, by))


def expected(tickets: list[Ticket], by: str | None) -> dict[str | None, dict[str, Any]]:
    rows = [(tk, i, t) for tk in tickets for i, t in enumerate(tk.txs)]
    if by is None:
        return {None: figures(rows)}
    keys = sorted({group(t, by) for _, _, t in rows})
    return {k: figures([r for r in rows if group(r[2], by) == k]) for k in keys}


def hall_file(tmp_path: Path, broker: Mosquitto, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HALLGATE_TOKEN_DUTY_MANAGER", TOKEN)
    hall = tmp_path / "hall.yaml"
    hall.write_text(f"""
site: {SITE}
timezone: Asia/Shanghai
api:
  port: {free_port()}
  tokens: [{{role: duty_manager, env: HALLGATE_TOKEN_DUTY_MANAGER}}]
broker: {{host: 127.0.0.1, port: {broker.port}}}
store: {{path: {tmp_path}/outbox.sqlite}}
devices:
  - {{id: q-1, kind: queue, profile: ref-queue}}
""")
    return hall


def test_a_large_halls_day_summarised_by_the_gateway_equals_the_figures_of_the_events_as_published(
    mosquitto: Mosquitto, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hall = hall_file(tmp_path, mosquitto, monkeypatch)
    with MqttWatcher(mosquitto.port, f"{BASE}/event") as watch:
        asyncio.run(_day(hall, mosquitto, watch))


async def _day(hall: Path, broker: Mosquitto, watch: MqttWatcher) -> None:
    cfg = load_config(hall)
    day = {"windows": 30, "tickets": 3000, "speed": "full", "date": DAY}  # the seeded day model's
    sim = HallSimulator(
        {"site": SITE, "devices": [{"id": "q-1", "kind": "queue", "sim": day}]},
        mqtt=MqttSettings(port=broker.port),
        state_dir=None,
    )
    q: QueueSystem = sim.device("q-1")
    api = httpx.AsyncClient(base_url=f"http://127.0.0.1:{cfg.api.port}", headers={"Authorization": f"Bearer {TOKEN}"})
    async with api, start_gateway(cfg):
        async with sim:
            await q.wait_day(timeout=120)
            await watch.wait(on(f"{BASE}/event"), count=len(q.plan.events), timeout=60)
        events = [ln.json for ln in watch.matching(on(f"{BASE}/event"))]
        tickets = tickets_from(events)
        total = expected(tickets, None)[None]
        kinds = Counter(e["type"] for e in events)
        # a day worth comparing: every kind of event, every window, recalls and lunch
        assert kinds["issued"] == 3000 and all(kinds[k] for k in ("no_show", "transferred", "finished"))
        assert len(expected(tickets, "window")) == 30 and len(expected(tickets, "hour")) >= 9

        async def summary(by: str | None) -> dict[str, Any]:
            r = await api.get("/api/v1/queue/summary", params={**PERIOD, **({"by": by} if by else {})})
            assert r.status_code == 200, r.text
            return r.json()

        async def kept() -> dict[str, Any] | None:
            got = (await summary(None))["total"]
            got.pop("key")
            return got if got["tickets"] == total["tickets"] and got["served"] == total["served"] else None

        assert await until(kept, timeout=30, what="every visit kept and ended") == total
        for by in GROUPS:
            got = await summary(by)
            assert {g.pop("key"): g for g in got["groups"]} == expected(tickets, by), by
            assert {k: v for k, v in got["total"].items() if k != "key"} == total
