"""Device profiles: a vendor's topics, JSON fields, registers and commands as data (YAML).

A profile is one of two protocols' models, told apart by its `protocol` key: the MQTT JSON one
(mqtt_model.py) or the Modbus register map (modbus_model.py), on the shared specs (specs.py).
This module is that choice; the gateway imports the two top-level models from here.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from drivers.profiles.modbus_model import ModbusProfile
from drivers.profiles.mqtt_model import MqttProfile

__all__ = ["ModbusProfile", "MqttProfile", "Profile"]

Profile = Annotated[MqttProfile | ModbusProfile, Field(discriminator="protocol")]
