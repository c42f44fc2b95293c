"""Message expiry on commands (MQTT 5; QoS 0 on 3.1.1), against a real Mosquitto and the simulated lockbox: a command
published while the cabinet is away (its session persisting at the broker) and expired by the
time it comes back is never delivered; one without expiry is. And the link's socket has Nagle off."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from pathlib import Path
from typing import Literal

import pytest

from drivers.mqtt.link import MqttLink
from drivers.mqtt.options import MqttOptions
from firmware_sim.hall import HallSimulator
from firmware_sim.mqtt_device import MqttSettings
from tests.servers import Mosquitto
from tests.test_commands import count_unlocks
from tests.waits import until


@pytest.mark.parametrize("protocol", ["5", "3.1.1"])
def test_an_expired_command_never_reaches_a_cabinet_that_comes_back(
    tmp_path: Path, mosquitto: Mosquitto, protocol: Literal["5", "3.1.1"]
) -> None:
    """MQTT 3.1.1 has no expiry: a command with one goes at QoS 0, never queued for a cabinet away."""
    hall = tmp_path / "hall.yaml"
    hall.write_text("site: expiry\ndevices:\n  - {id: lb-1, kind: lockbox, profile: ref-lockbox, slots: 12}\n")
    asyncio.run(_run(hall, mosquitto, protocol))


async def _run(hall: Path, mosquitto: Mosquitto, protocol: Literal["5", "3.1.1"]) -> None:
    sim = HallSimulator(
        hall, mqtt=MqttSettings(host=mosquitto.host, port=mosquitto.port), heartbeat_s=0.5, rate_per_min=0, seed=3
    )
    opts = MqttOptions(host=mosquitto.host, port=mosquitto.port, client_id="expiry-gateway", protocol=protocol)
    async with sim, MqttLink(opts, lambda _: None) as link:
        lb = sim.device("lb-1")
        unlocks = count_unlocks(lb)
        await until(lambda: link.stats.connected and lb.connected.is_set(), what="both connected")
        sock = link._client.socket()
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)

        lb.go_offline()  # a network cut: its session stays at the broker
        await until(lambda: not lb.connected.is_set(), what="the cabinet away")
        topic = lb.channel("cmd")
        late = link.publish(topic, json.dumps({"id": "late-1", "op": "unlock", "slot": 3}).encode(), expiry_s=1.0)
        kept = link.publish(topic, json.dumps({"id": "kept-1", "op": "snapshot"}).encode())
        await until(lambda: late.is_published() and kept.is_published(), what="both taken by the broker")
        queued = time.monotonic()
        # Mosquitto keeps time in whole seconds and drops a message only once its clock is past
        # the expiry second: up to 2 s after a 1 s expiry.
        await until(lambda: time.monotonic() - queued > 2.5, what="the unlock's expiry at the broker")

        lb.come_back()
        await until(lambda: lb.executed_cmds >= 1, what="the kept command delivered after the come-back")
        assert "kept-1" in lb._acks and "late-1" not in lb._acks
        assert unlocks == [] and lb.executed_cmds == 1
