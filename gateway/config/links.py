"""How the gateway reaches one device: its MQTT topic and broker user, or its Modbus line."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from gateway.config.base import Model


class MqttLink(Model):
    topic: str | None = None  # the device's topic base; default hall/{site}/{profile topic kind}/{id}
    # The broker user it logs in as (`hallgate broker-config`); default: its id. Halls sharing a
    # broker need distinct users, e.g. {site}-{id}.
    username: str | None = Field(None, pattern=r"^[A-Za-z0-9_.-]{1,64}$")

    @field_validator("topic")
    @classmethod
    def _plain_topic(cls, topic: str | None) -> str | None:
        # The profile's own template refuses these; an override here must too. A wildcard base
        # subscribed to other devices' messages as this device's (and published commands to a
        # topic no broker accepts); `$` topics are the broker's own.
        if topic is None:
            return None
        if not topic.strip("/"):
            raise ValueError("主题为空：请填设备的主题前缀，如 hall/site/rating/rp-w01")
        if any(c in topic for c in "#+\x00"):
            raise ValueError(f"{topic!r}：设备主题中不能有 MQTT 通配符（+、#）或 NUL")
        if topic.startswith("$"):
            raise ValueError(f"{topic!r}：以 $ 开头的主题属于代理本身，不能使用")
        return topic


class ModbusLink(Model):
    host: str | None = Field(None, min_length=1)
    port: int = Field(502, ge=1, le=65535)
    serial: str | None = None  # e.g. /dev/ttyUSB0 for RS-485 directly
    baudrate: int = Field(9600, gt=0)
    unit: int = Field(1, ge=0, le=247)
    framer: Literal["socket", "rtu"] = "socket"  # rtu over TCP: an RS-485 serial server
    timeout_s: float = Field(1.0, gt=0)

    @model_validator(mode="after")
    def _one_line(self) -> ModbusLink:
        if (self.host is None) == (self.serial is None):
            raise ValueError("host（Modbus TCP 或 RTU over TCP）与 serial（RS-485）只能填一个")
        return self

    @property
    def bus(self) -> str:
        """One physical line: requests on it are serialised."""
        return self.serial or f"{self.host}:{self.port}"
