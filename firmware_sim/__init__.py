"""Reference firmware simulators for every hallgate device kind.

This package implements `device-protocols.md` on its own: it must never import `gateway` or
`drivers` (tests/test_sim_independence.py checks that), so a mistake on either side shows up.

Entry points:
- `firmware_sim.hall.HallSimulator`: a whole hall from a hall YAML file (`async with sim:`).
- `firmware_sim.kinds.registry.KINDS`: every simulated kind, its device class (one module per kind
  in `firmware_sim/kinds/`) and the faults only it has. The queue system (`kinds/queue.py`) plays
  a day of the pure model in `kinds/queue_day.py` and prompts the hall's rating pads with its visits.
- `python -m firmware_sim` (`firmware_sim.cli.main`): the command line (`hallgate sim`); its
  `queue` command lives in `firmware_sim.queue_cli`.
- `firmware_sim.faults`: the fault vocabulary (`HallSimulator.inject`, `--fault`, the control channel
  in `firmware_sim.control`); `firmware_sim.scenario`: a day in the hall; `firmware_sim.district`:
  gateway configurations for a simulated district.
"""
