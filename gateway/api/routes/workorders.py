"""The body of a work order's step (the routes are in the rating pad's package, `workorders_api.py`).

It stays here because OpenAPI names it by this module: two request bodies are called NoteIn (this
and an alert's), so each schema's name is its module path, `gateway__api__routes__workorders__NoteIn`,
and moving the model would rename a schema that clients generated from the document use.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from gateway.api.deps import NoteText


class NoteIn(BaseModel):
    note: NoteText = Field(min_length=1, max_length=2000, description="回访 note, what was done, the appeal's reason")
    satisfaction: Literal["satisfied", "dissatisfied"] | None = Field(
        None, description="回访满意度, on the callback only: whether the citizen was satisfied (满意/不满意)"
    )
