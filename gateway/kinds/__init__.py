"""The device kinds: one package each (its `KIND`: configuration parameters, the signals its
profile must provide, health rules, projections). `gateway/kinds/registry.py` lists them."""
