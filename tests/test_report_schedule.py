"""The scheduled operations reports apart from a running gateway: when each kind is due (hall
time, across a year end), and the schedule on a real state database re-opened as a restarted
gateway would: a run made once whatever the restarts, a gateway down at 08:00 making it when it
starts, none made for a time before the schedule first ran, a report that fails retried at most
`retries` times and never left making. The clock is the only fake."""

from __future__ import annotations

import asyncio
from datetime import datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from gateway.config.hall import HallConfig
from gateway.domain.report_schedule import latest_due, next_run, retry_at_ns
from gateway.features.reports.desk import ReportDesk
from gateway.features.reports.gather import Sources
from gateway.features.reports.schedule import BY, Scheduler
from gateway.store.journal import Journal

TZ = "Asia/Shanghai"
EIGHT = time(8)


def ns(text: str, tz: str = TZ) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(tz)).timestamp()) * 10**9


@pytest.mark.parametrize(
    ("kind", "now", "period", "due"),
    [
        ("week", "2026-11-30 07:59", "2026-W47", "2026-11-23 08:00"),  # Monday before 08:00: last Monday's run
        ("week", "2026-11-30 08:00", "2026-W48", "2026-11-30 08:00"),
        ("week", "2026-12-06 23:00", "2026-W48", "2026-11-30 08:00"),  # Sunday night
        ("week", "2027-01-04 09:00", "2026-W53", "2027-01-04 08:00"),  # 2026 has 53 ISO weeks
        ("month", "2026-12-01 07:00", "2026-10", "2026-11-01 08:00"),
        ("month", "2026-12-01 08:30", "2026-11", "2026-12-01 08:00"),
        ("month", "2027-01-01 08:00", "2026-12", "2027-01-01 08:00"),
        ("quarter", "2027-01-01 08:00", "2026-Q4", "2027-01-01 08:00"),
        ("quarter", "2026-12-31 23:59", "2026-Q3", "2026-10-01 08:00"),
    ],
)
def test_each_kind_is_due_for_the_period_that_ended_before_its_day(kind: str, now: str, period: str, due: str) -> None:
    run = latest_due(kind, ns(now), EIGHT, TZ)
    assert (run.span.label, run.at_ns) == (period, ns(due))


def test_the_next_runs_are_the_coming_monday_the_first_and_the_quarters_first_day() -> None:
    now = ns("2026-12-07 10:27")  # a Monday after 08:00
    runs = [next_run(k, now, EIGHT, TZ) for k in ("week", "month", "quarter")]
    assert [(r.span.label, r.at.isoformat()) for r in runs] == [
        ("2026-W50", "2026-12-14T08:00:00+08:00"),
        ("2026-12", "2027-01-01T08:00:00+08:00"),
        ("2026-Q4", "2027-01-01T08:00:00+08:00"),
    ]  # fmt: skip
    # another weekday and hall time: the week's report on Friday 17:30 in Urumqi
    run = next_run("week", ns("2026-12-07 10:27"), time(17, 30), "Asia/Urumqi", "fri")
    assert (run.span.label, run.at.isoformat()) == ("2026-W49", "2026-12-11T17:30:00+06:00")


def test_a_failed_run_waits_twice_as_long_each_time() -> None:
    assert [retry_at_ns(0, n, 10) // 60 // 10**9 for n in (1, 2, 3)] == [10, 20, 40]


class Gateway:
    """What a start of the gateway builds of the schedule, on the state database in `tmp`."""

    def __init__(self, tmp: Path, now: list[int], **schedule: object) -> None:
        self.cfg = HallConfig(site="t", name="测试大厅", timezone=TZ, reports={"schedule": schedule})
        self.journal = Journal(tmp / "state.sqlite")
        repos = self.journal.repos
        repos.reports.abandon_rendering("网关在生成报告时停止（gateway stopped while rendering）")
        clock = lambda: now[0]  # noqa: E731
        none = Sources(None, None, None, None, None)
        self.desk = ReportDesk(self.cfg, none, repos.reports, tmp / "reports", clock, repos.report_runs)
        self.plan = Scheduler(self.cfg, self.desk, repos.report_runs, {}, clock)

    def check(self) -> list[int]:
        return asyncio.run(self.plan.check())

    def scheduled(self) -> list[tuple[str, str, str]]:
        return [(r["kind"], r["period"], r["status"]) for r in self.journal.repos.reports.list() if r["by"] == BY]

    def close(self) -> None:
        self.journal.close()


def test_a_run_is_made_once_across_restarts_and_by_a_gateway_down_at_its_time(tmp_path: Path) -> None:
    now = [ns("2026-11-29 20:00")]  # Sunday night: the schedule's first run
    gw = Gateway(tmp_path, now, at={"week": "08:00", "month": "08:00"})
    assert gw.check() == []  # W47's run (23 November) came before the schedule: no history is made
    gw.close()
    now[0] = ns("2026-11-30 09:30")  # the gateway was down at 08:00 on Monday: it makes W48 when it starts
    gw = Gateway(tmp_path, now, at={"week": "08:00", "month": "08:00"})
    made = gw.check()
    assert len(made) == 1 and gw.scheduled() == [("week", "2026-W48", "done")]
    assert gw.check() == []  # checked again: made already
    row = gw.journal.repos.reports.get(made[0])
    assert row is not None and (row["start_ns"], row["end_ns"]) == (ns("2026-11-23 00:00"), ns("2026-11-30 00:00"))
    assert {p.name for p in gw.desk.files(made[0]).iterdir()} >= {"report.json", "report.xlsx", "report.pdf"}
    gw.close()
    now[0] = ns("2026-11-30 10:00")  # restarted after it ran
    gw = Gateway(tmp_path, now, at={"week": "08:00", "month": "08:00"})
    assert gw.check() == [] and gw.scheduled() == [("week", "2026-W48", "done")]
    now[0] = ns("2026-12-01 08:00")  # the 1st: the month's
    assert len(gw.check()) == 1
    assert gw.scheduled() == [("month", "2026-11", "done"), ("week", "2026-W48", "done")]
    gw.close()


def test_a_report_that_fails_is_failed_with_its_reason_and_tried_again_at_most_retries_times(tmp_path: Path) -> None:
    now = [ns("2026-11-29 20:00")]
    gw = Gateway(tmp_path, now, at={"week": "08:00"}, retries=2, retry_after_min=10)
    gw.check()
    (tmp_path / "reports").write_text("not a folder")  # the reports' files cannot be written
    now[0] = ns("2026-11-30 08:00")
    assert gw.check() == []
    runs = gw.journal.repos.report_runs
    first = runs.get("week", "2026-W48")
    assert first is not None and (first["state"], first["attempts"], first["next_ns"]) == (
        "failed", 1, ns("2026-11-30 08:10"))  # fmt: skip
    now[0] = ns("2026-11-30 08:09")
    gw.check()
    assert len(gw.scheduled()) == 1  # not before its time
    gw.close()
    now[0] = ns("2026-11-30 08:10")  # a restart on the way changes nothing
    gw = Gateway(tmp_path, now, at={"week": "08:00"}, retries=2, retry_after_min=10)
    gw.check()
    now[0] = ns("2026-11-30 08:30")
    gw.check()
    now[0] = ns("2026-12-06 08:00")
    gw.check()
    reports = gw.journal.repos.reports.list()
    assert [r["status"] for r in reports] == ["failed"] * 3  # the first and two retries, none pending
    assert all(r["reason"].startswith("报告文件写入失败（") for r in reports)
    last = gw.journal.repos.report_runs.get("week", "2026-W48")
    assert last is not None and (last["state"], last["attempts"], last["next_ns"]) == ("failed", 3, None)
    gw.close()


def test_a_gateway_stopped_while_making_a_run_makes_it_again_when_it_starts(tmp_path: Path) -> None:
    now = [ns("2026-11-29 20:00")]
    gw = Gateway(tmp_path, now, at={"week": "08:00"})
    gw.check()
    now[0] = ns("2026-11-30 08:00")
    # what a gateway killed while rendering leaves: the run begun, its report rendering
    gw.journal.repos.report_runs.begin("week", "2026-W48", now[0])
    gw.desk.ask("week", "2026-W48", BY)
    gw.close()
    gw = Gateway(tmp_path, now, at={"week": "08:00"})  # the start fails what was left rendering
    assert len(gw.check()) == 1
    assert [r["status"] for r in gw.journal.repos.reports.list()] == ["done", "failed"]
    assert gw.journal.repos.report_runs.get("week", "2026-W48")["attempts"] == 2  # type: ignore[index]
    gw.close()


def test_a_schedule_turned_off_makes_nothing(tmp_path: Path) -> None:
    now = [ns("2026-11-29 20:00")]
    gw = Gateway(tmp_path, now, enabled=False)
    gw.check()
    now[0] = ns("2026-11-30 09:00")
    assert gw.check() == [] and gw.scheduled() == []
    gw.close()


def test_the_deliveries_secrets_are_required_at_start(tmp_path: Path) -> None:
    from gateway.config.errors import ConfigError
    from gateway.config.load import load_config

    hall = tmp_path / "hall.yaml"
    hall.write_text("""
site: t
reports:
  delivery:
    robot: {wecom: {url_env: HALL_GROUP_WEBHOOK}}
    email: {host: smtp.example, user: gw, password_env: HALL_SMTP_PASSWORD, from: gw@example, to: [a@example]}
""")
    with pytest.raises(ConfigError) as e:
        load_config(hall, environ={})
    said = e.value.render()
    assert "reports.delivery.email.password_env" in said and "环境变量 HALL_SMTP_PASSWORD 未设置" in said
    assert "reports.delivery.robot.wecom.url_env" in said and "环境变量 HALL_GROUP_WEBHOOK 未设置" in said
    env = {"HALL_GROUP_WEBHOOK": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k", "HALL_SMTP_PASSWORD": "p"}
    assert load_config(hall, environ=env).reports.delivery.email is not None
    hall.write_text("site: t\nreports: {delivery: {email: {host: h, user: gw, from: gw@example, to: [a@example]}}}\n")
    with pytest.raises(ConfigError, match="user and password_env"):
        load_config(hall, environ={})
