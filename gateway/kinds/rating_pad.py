"""Window rating pad (评价器): one per window; citizens rate each service 1-5."""

from __future__ import annotations

from gateway.kinds.base import Kind, low_battery

KIND = Kind(
    name="rating_pad",
    description="window rating pad (评价器)",
    params=frozenset({"window", "zone"}),
    signals={"rated": frozenset({"score"}), "unrated": frozenset()},
    rules=(low_battery,),
)
