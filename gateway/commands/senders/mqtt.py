"""Commands to MQTT devices: published on the device's command topic, confirmed by its ack (a
canonical `ack` event the hub brings up with the command's id)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any, Protocol

from drivers.profiles.commands import encode_mqtt_command
from drivers.profiles.model import MqttProfile
from gateway.commands.request import Request
from gateway.commands.senders import Attempt, Heard, Verdict
from gateway.devices import DeviceEntry
from gateway.domain.canonical import Event

DEVICE_CMD_MEMORY_S = 600  # device-protocols.md: a device drops a command id it executed in the last 10 min
SNAPSHOT_EXPIRY_S = 30.0  # a snapshot asked for long ago says nothing new: the broker may drop it


class Publisher(Protocol):
    def publish(
        self, topic: str, payload: bytes, qos: int = 1, retain: bool = False, expiry_s: float | None = None
    ) -> Any: ...


class MqttSender:
    remembers_s: float | None = DEVICE_CMD_MEMORY_S

    def __init__(self, site: str) -> None:
        self.site = site
        self.link: Publisher | None = None  # attached by the runtime once the MQTT link is up
        self.connected: Callable[[], bool] = lambda: False
        self._acks: dict[str, asyncio.Future[dict[str, Any]]] = {}  # command id -> its ack's fields
        self._ack_parts: dict[str, str] = {}  # command id -> the part it unlocks

    def attach(self, link: Publisher, connected: Callable[[], bool]) -> None:
        self.link, self.connected = link, connected

    def check(self, d: DeviceEntry, req: Request) -> None:
        encode_mqtt_command(_profile(d), req.op, req.params, "check")

    def unavailable(self) -> str | None:
        # paho would queue it and send it whenever the broker is back: a late unlock.
        return None if self.connected() else "the MQTT broker is not connected: nothing was sent"

    def _topic(self, d: DeviceEntry, channel: str) -> str:
        assert d.decoder is not None
        return d.decoder.command_topic(d.id, self.site, channel, d.config.mqtt.topic if d.config.mqtt else None)

    async def send(self, d: DeviceEntry, attempt: Attempt) -> Verdict:
        req, cmd_id = attempt.req, attempt.cmd_id
        wire = encode_mqtt_command(_profile(d), req.op, req.params, cmd_id)
        topic = self._topic(d, wire.channel)
        assert self.link is not None
        waiter: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._acks[cmd_id] = waiter
        self._ack_parts[cmd_id] = req.part
        limit = attempt.timeout_s or (wire.ack.timeout_s if wire.ack else 10.0)
        try:
            if not attempt.sent_before:
                await attempt.sending()
            # The same id again after a restart is safe: the device re-sends its first ack. The
            # broker drops it once we stop waiting (MQTT 5 Message Expiry): a cabinet back after
            # our 504 must not open a slot nobody is standing at. A second less than the wait:
            # brokers count whole seconds (Mosquitto drops a message up to 1 s past its expiry).
            self.link.publish(topic, wire.payload, qos=1, expiry_s=limit - 1.0)
            ack = await asyncio.wait_for(waiter, limit)
        except TimeoutError:
            # Its ack may still come: it amends the audit (late.py).
            return Verdict("timeout", "no_answer", f"{d.id} did not answer within {limit:g} s")
        finally:
            self._acks.pop(cmd_id, None)
            self._ack_parts.pop(cmd_id, None)
        spec = wire.ack
        ok = ack.get(spec.ok_field if spec else "ok")
        if ok is True:
            return Verdict("confirmed", None, f"{d.id} confirmed {req.op} of {req.part}")
        error = ack.get(spec.error_field) if spec and spec.error_field else None
        return Verdict("failed", str(error or "refused"), f"{d.id} refused {req.op} of {req.part}: {error}")

    def heard(self, d: DeviceEntry, event: Event) -> Heard | None:
        spec = _ack_spec(_profile(d))
        cmd_id = event.fields.get(spec.id_field if spec else "id")
        if not isinstance(cmd_id, str):
            return None
        ok = event.fields.get(spec.ok_field if spec else "ok") is True
        waiter = self._acks.get(cmd_id)
        if waiter is not None and not waiter.done():
            waiter.set_result(event.fields)
            return Heard(cmd_id, ok, None, waited=True, part=self._ack_parts.get(cmd_id))
        if event.fields.get("slots"):
            return None  # a snapshot's answer: the kind's projection reads it
        error = event.fields.get(spec.error_field) if spec and spec.error_field else None
        return Heard(cmd_id, ok, None if error is None else str(error), waited=False)

    def snapshot(self, d: DeviceEntry) -> None:
        """Ask a device with a `snapshot` command for its state; its ack feeds the kind's
        projection. A read, not an actuation: not audited, not keyed, not awaited."""
        if d.decoder is None or self.link is None or not self.connected():
            return
        if "snapshot" not in d.profile.commands:
            return
        wire = encode_mqtt_command(_profile(d), "snapshot", {}, uuid.uuid4().hex)
        self.link.publish(self._topic(d, wire.channel), wire.payload, qos=1, expiry_s=SNAPSHOT_EXPIRY_S)

    async def aclose(self) -> None:
        return None  # what waits for an ack is the desk's command task, which the desk stops


def _profile(d: DeviceEntry) -> MqttProfile:
    assert isinstance(d.profile, MqttProfile), f"{d.id} is not an MQTT device"
    return d.profile


def _ack_spec(profile: MqttProfile) -> Any:
    for cmd in profile.commands.values():
        if getattr(cmd, "ack", None) is not None:
            return cmd.ack
    return None
