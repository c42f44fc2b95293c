"""The simulated device kinds: one module each, its device class and its `KIND` (what it takes
from a hall file, which faults it has beyond the common ones). `firmware_sim/kinds/registry.py`
lists them."""
