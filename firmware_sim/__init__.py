"""Reference firmware simulators for every hallgate device kind.

This package implements `device-protocols.md` on its own: it must never import `gateway` or
`drivers` (tests/test_sim_independence.py checks that), so a mistake on either side shows up.

Entry points:
- `firmware_sim.hall.HallSimulator`: a whole hall from a hall YAML file (`async with sim:`).
- `firmware_sim.hall.run_device` / the device classes: one device.
- `python -m firmware_sim` (`firmware_sim.cli.main`): the command line (`hallgate sim`).
- `firmware_sim.faults`: the fault vocabulary (`HallSimulator.inject`, `--fault`, the control channel
  in `firmware_sim.control`); `firmware_sim.scenario`: a day in the hall; `firmware_sim.district`:
  gateway configurations for a simulated district.
"""

from firmware_sim.attendance import AttendanceMachine
from firmware_sim.counter import PeopleCounter
from firmware_sim.hall import HallSimulator, MqttSettings, load_hall
from firmware_sim.lockbox import Lockbox
from firmware_sim.locker import LockerBoard
from firmware_sim.modbus_bus import ModbusBus
from firmware_sim.mqtt_device import MqttDevice
from firmware_sim.rating import RatingPad

__all__ = [
    "AttendanceMachine",
    "HallSimulator",
    "Lockbox",
    "LockerBoard",
    "ModbusBus",
    "MqttDevice",
    "MqttSettings",
    "PeopleCounter",
    "RatingPad",
    "load_hall",
]
