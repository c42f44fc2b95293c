"""The registered device kinds as the pages need them: what to call each (Chinese first) and what it
adds to which page. The pages ask this instead of naming kinds (dashboards/web/), so a new kind's
devices reach the pages through its package alone."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from gateway.api.deps import PublicRoleDep
from gateway.kinds.registry import KINDS

router = APIRouter(tags=["system"])


class KindOut(BaseModel):
    name: str  # the machine code, as a device's `kind`
    label: str  # what a person reads (Chinese); the name when the kind declares none
    description: str
    pages: dict[str, str]  # page -> the fragment its devices get there, e.g. {"staff": "slots"}


@router.get(
    "/kinds", response_model=list[KindOut], summary="Every registered device kind and what it adds to the pages"
)
async def kinds(_: PublicRoleDep) -> list[KindOut]:
    # Every registered kind, whether or not the hall has a device of it (as the API's routes).
    return [
        KindOut(name=k.name, label=k.label or k.name, description=k.description, pages=dict(k.pages))
        for k in KINDS.values()
    ]
