"""The MQTT JSON profile: its channels, topics and commands, and the checks that tie them together."""

from __future__ import annotations

import string
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from drivers.profiles.absent import check_params
from drivers.profiles.specs import (
    PLACEHOLDER,
    FieldSpec,
    KindName,
    Limits,
    Liveness,
    ProfileModel,
    Scalar,
    TimeSpec,
    fields_short_forms,
)


class Channel(ProfileModel):
    """One MQTT channel (a topic level or a payload field value): which canonical event(s) it carries."""

    event: str | None = None  # a fixed canonical event name ...
    type_field: str | None = None  # ... or the payload field that names the event
    # vendor type -> canonical event name (unlisted types are rejected)
    types: dict[str, str] = Field(default_factory=dict)
    # canonical name -> typed spec (`name: int` is the short form)
    fields: dict[str, FieldSpec] = Field(default_factory=dict)
    required: list[str] = Field(default_factory=list)  # canonical fields that must be present
    # How this channel's events are timed: `device` (its timestamp field, required) or `arrival`
    # (the gateway's receive time: for devices without a clock).
    time: Literal["device", "arrival"] = "device"
    timestamp: TimeSpec | None = None  # overrides the profile's timestamp for this channel
    # The device's MQTT will (and clean-shutdown) payload: a message holding these values may lack
    # a time, because the broker sends it on the device's behalf. E.g. {state: offline}.
    will: dict[str, Scalar] | None = None

    _short = field_validator("fields", mode="before")(fields_short_forms)

    @model_validator(mode="after")
    def _event_or_type(self) -> Channel:
        if (self.event is None) == (self.type_field is None):
            raise ValueError("通道只能有 `event`，或 `type_field` 加 `types`，二者取一")
        if self.type_field is not None and not self.types:
            raise ValueError("`type_field` 需要 `types`（厂商类型 -> 标准事件）")
        unknown = [f for f in self.required if f not in self.fields]
        if unknown:
            raise ValueError(f"必填字段 {unknown} 不在 fields 中")
        return self


class AckSpec(ProfileModel):
    """The device's answer to a command: on which channel, and how it is matched and read."""

    channel: str = "ack"
    # Canonical fields of the ack channel's decoded event (not vendor paths: the hub sees events).
    id_field: str = "id"  # repeats the command id
    ok_field: str = "ok"  # bool
    error_field: str | None = "error"
    timeout_s: float = Field(10.0, gt=0)


def _placeholders(template: Any) -> set[str]:
    """Names of the `"{name}"` values in a payload template (whole values only, so types survive)."""
    found: set[str] = set()
    if isinstance(template, dict):
        for v in template.values():
            found |= _placeholders(v)
    elif isinstance(template, list):
        for v in template:
            found |= _placeholders(v)
    elif isinstance(template, str):
        m = PLACEHOLDER.match(template)
        if m:
            found.add(m.group(1))
        elif "{" in template:
            raise ValueError(f'{template!r}：占位符须是整个取值，如 "{{slot}}"')
    return found


class MqttCommand(ProfileModel):
    """A JSON command: a payload template with typed parameters, and the ack that answers it."""

    channel: str = "cmd"
    params: dict[str, FieldSpec] = Field(default_factory=dict)
    payload: dict[str, Any]  # "{param}" values become the typed parameter, "{id}" the command id
    ack: AckSpec | None = AckSpec()

    _short = field_validator("params", mode="before")(fields_short_forms)

    @model_validator(mode="after")
    def _template(self) -> MqttCommand:
        check_params(self.params)
        used = _placeholders(self.payload)
        unknown = used - set(self.params) - {"id"}
        if unknown:
            raise ValueError(f"payload 用到的 {sorted(unknown)} 不是 params 中的参数")
        unused = set(self.params) - used
        if unused:
            raise ValueError(f"参数 {sorted(unused)} 没有在 payload 中用到")
        if self.ack is not None and "id" not in used:
            raise ValueError('需要应答的命令须带上编号：在 payload 中加 id: "{id}"')
        return self


DEFAULT_TOPIC = "hall/{site}/{topic_kind}/{device}/{channel}"
_TOPIC_FIELDS = {"site", "topic_kind", "device", "channel"}


def _topic_fields(template: str) -> set[str]:
    names = {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
    if not names <= _TOPIC_FIELDS:
        raise ValueError(
            f"{template!r}：未知的占位符 {sorted(names - _TOPIC_FIELDS)}（可用 {'、'.join(sorted(_TOPIC_FIELDS))}）"
        )
    if any(c in template for c in "#+"):
        raise ValueError(f"{template!r}：设备主题中不能有通配符")
    return names


class MqttProfile(ProfileModel):
    name: str
    kind: KindName
    protocol: Literal["mqtt"]
    vendor: str = ""
    topic_kind: str  # the {topic_kind} level of the vendor's topics
    topic: str = DEFAULT_TOPIC  # where the device publishes
    channel_field: str | None = None  # the payload field naming the channel (one topic for all)
    command_topic: str | None = None  # where commands go; default: `topic` with {channel} = the command's
    timestamp: TimeSpec = TimeSpec()
    seq_field: str | None = "seq"
    limits: Limits = Limits()
    liveness: Liveness = Liveness()
    channels: dict[str, Channel]
    commands: dict[str, MqttCommand] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _topics(self) -> MqttProfile:
        names = _topic_fields(self.topic)
        if "device" not in names:
            raise ValueError(f"主题 {self.topic!r} 须包含 {{device}}")
        if self.channel_field is None and "channel" not in names:
            raise ValueError(f"主题 {self.topic!r} 需要 {{channel}}，或设置 channel_field")
        if self.channel_field is not None and "channel" in names:
            raise ValueError("有 channel_field 时由 payload 指明通道：请从主题中删去 {channel}")
        if self.command_topic is not None:
            cmd_names = _topic_fields(self.command_topic)
            if "device" not in cmd_names:
                raise ValueError(f"command_topic {self.command_topic!r} 须包含 {{device}}")
        elif self.commands and "channel" not in names:
            raise ValueError("由 payload 指明通道时，命令需要 command_topic")
        for op, cmd in self.commands.items():
            if cmd.ack is None:
                continue
            ack_channel = self.channels.get(cmd.ack.channel)
            if ack_channel is None:
                raise ValueError(f"commands.{op}.ack.channel {cmd.ack.channel!r} 不是通道")
            # The ack is matched on the decoded (canonical) event, so its fields must be decoded.
            for f in (cmd.ack.id_field, cmd.ack.ok_field, cmd.ack.error_field):
                if f is not None and f not in ack_channel.fields:
                    raise ValueError(f"commands.{op}.ack：{f!r} 不是通道 {cmd.ack.channel} 的字段")
        return self

    def topic_base(self, site: str, device: str) -> str:
        """The device's topic without its last `/{channel}` level (what the hub appends channels to).

        A profile whose channel is not the last level (or is in the payload) has no such base: use
        `MqttDecoder.topics` instead; this then returns the whole topic without its channel level.
        """
        template = self.topic.removesuffix("/{channel}")
        return template.replace("{channel}", "+").format(site=site, topic_kind=self.topic_kind, device=device)
