"""The pickup-code notifier end to end: the simulated locker board (real pymodbus server), the
gateway, and a webhook receiver that is cut off and comes back. Each code reaches the receiver
once, a reminder follows before expiry, and no code is ever logged."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from gateway.config.errors import ConfigError
from gateway.config.load import load_config
from gateway.runtime import start_gateway
from tests.servers import Mosquitto, free_port
from tests.test_alerts import Receiver
from tests.test_commands import Api, _sim
from tests.waits import until


@pytest.fixture
def receiver() -> Any:
    r = Receiver(free_port())
    yield r
    r.stop()


def _hall(tmp_path: Path, mosquitto: Mosquitto, receiver: Receiver) -> Path:
    path = tmp_path / "hall.yaml"
    path.write_text(f"""
site: notify
working_hours: {{days: []}}
api:
  port: {free_port()}
  tokens:
    - {{role: staff, env: CMD_TOKEN_STAFF, name: wang.staff}}
    - {{role: manager, env: CMD_TOKEN_MANAGER}}
broker: {{host: 127.0.0.1, port: {mosquitto.port}}}
store: {{path: {tmp_path}/outbox.sqlite}}
commands: {{timeout_s: 1.5}}
# A code lives 7.2 s and its reminder is due 5 s before that: about 2 s after the deposit.
lockers:
  code_ttl_h: 0.002
  remind_before_h: 0.0014
  notify: {{url: "http://127.0.0.1:{receiver.port}/sms", token_env: CMD_NOTIFY_TOKEN, timeout_s: 1}}
devices:
  - {{id: locker-1, kind: pickup_locker, profile: ref-pickup-locker, poll_interval_s: 0.1,
      modbus: {{host: 127.0.0.1, port: {free_port()}, unit: 1}},
      sim: {{door_close_after_s: 0.3, items_ratio: 0}}}}
""")
    return path


def test_codes_and_reminders_reach_the_applicant_once(
    tmp_path: Path,
    mosquitto: Mosquitto,
    receiver: Receiver,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("CMD_TOKEN_STAFF", "commands-staff-token-0123456789")
    monkeypatch.setenv("CMD_TOKEN_MANAGER", "commands-manager-token-012345678")
    monkeypatch.setenv("CMD_NOTIFY_TOKEN", "notify-secret")
    caplog.set_level(logging.DEBUG)
    path = _hall(tmp_path, mosquitto, receiver)
    codes = asyncio.run(_run(path, mosquitto, receiver))
    logged = "\n".join(r.getMessage() for r in caplog.records)
    # The lines where a code would show were captured: one per deposit.
    assert logged.count("pickup code issued: item 营业执照") == 2, logged[-2000:]
    assert all(code not in logged for code in codes)


async def _run(path: Path, mosquitto: Mosquitto, receiver: Receiver) -> list[str]:
    cfg = load_config(path)
    receiver.start()
    async with _sim(path, mosquitto) as _, start_gateway(cfg):
        api = Api(cfg)
        await until(api.online, what="the locker online")

        async def deposit(door: int) -> dict[str, Any]:
            body = {"item": "营业执照", "applicant": "李四 138****0000"}
            r = await api.call("STAFF", "POST", f"/lockers/locker-1/doors/{door}/deposit", f"dep-{door}", json=body)
            assert r.status_code == 200, r.text
            return r.json()

        def bodies(event: str) -> list[dict[str, Any]]:
            return [b for _, b in receiver.posts if b["event"] == event]

        first = await deposit(1)
        sent = await until(lambda: bodies("pickup_code"), what="the first code at the receiver")
        assert sent[0]["code"] == first["pickup_code"] and sent[0]["qr"] == first["qr"]
        assert (sent[0]["item_id"], sent[0]["door"], sent[0]["applicant"]) == (first["item_id"], 1, "李四 138****0000")

        # The receiver is cut: the second code waits in the state database, then arrives once.
        receiver.stop()
        second = await deposit(2)
        state = sqlite3.connect(path.parent / "state.sqlite")
        await until(
            lambda: state.execute("SELECT sum(attempts) FROM deliveries WHERE target = 'pickup'").fetchone()[0],
            what="a failed delivery attempt",
        )
        assert len(bodies("pickup_code")) == 1
        receiver.start()
        await until(lambda: len(bodies("pickup_code")) == 2, what="the second code after the come-back")
        assert bodies("pickup_code")[1]["code"] == second["pickup_code"]

        # A reminder for each item before its expiry, without the code (only its hash is kept).
        reminders = await until(lambda: len(bodies("pickup_reminder")) == 2 and bodies("pickup_reminder"))
        assert sorted(b["item_id"] for b in reminders) == [first["item_id"], second["item_id"]]
        assert all("code" not in b for b in reminders)
        await until(lambda: not state.execute("SELECT count(*) FROM deliveries").fetchone()[0], what="queue empty")
        ids = [i for i, _ in receiver.posts]
        assert len(ids) == len(set(ids)) == 4, receiver.posts
        state.close()
        await api.http.aclose()
    return [first["pickup_code"], second["pickup_code"]]


def test_the_notifier_token_must_be_set(tmp_path: Path, mosquitto: Mosquitto, receiver: Receiver) -> None:
    path = _hall(tmp_path, mosquitto, receiver)
    env = {
        "CMD_TOKEN_STAFF": "commands-staff-token-0123456789",
        "CMD_TOKEN_MANAGER": "commands-manager-token-012345678",
    }
    with pytest.raises(ConfigError) as e:
        load_config(path, env)
    assert [p[0] for p in e.value.problems] == ["lockers.notify.token_env"], e.value.problems
