"""The registered device kinds as the pages need them: what to call each (Chinese first), how many
devices of it the hall has, and what it adds to which page (its fragments: a script in its package,
served here, and the routes it calls). The pages ask this instead of naming kinds (dashboards/web/),
so a new kind's devices and screens reach the pages through its package alone."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import FileResponse
from pydantic import BaseModel

from gateway.api.deps import PublicRoleDep, ViewDep
from gateway.api.errors import ApiError
from gateway.features import PAGES as FEATURE_PAGES
from gateway.kinds.base import Fragment, Kind
from gateway.kinds.registry import KINDS

router = APIRouter(tags=["system"])
# The fragments' files, beside the pages' own (/web/...): no token, as any script or style of the pages.
files = APIRouter()
FRAGMENTS_URL = "/web/fragments"


class FragmentOut(BaseModel):
    name: str
    script: str  # its URL
    style: str | None  # its stylesheet's URL, if it has one
    routes: dict[str, str]  # its name for a route -> "METHOD /api/v1/path/{param}"
    needs: list[str]  # of `routes`: a token that may not call one of these does not get the fragment


class KindOut(BaseModel):
    name: str  # the machine code, as a device's `kind`
    label: str  # what a person reads (Chinese); the name when the kind declares none
    description: str
    devices: int  # this hall's devices of the kind: a page shows a kind's fragment only where there is one
    pages: dict[str, str]  # page -> the fragment its devices get there, e.g. {"staff": "slots"}
    fragments: dict[str, FragmentOut]  # page -> that fragment


class FeatureOut(BaseModel):
    name: str  # gateway/features/<name>
    label: str
    fragments: dict[str, FragmentOut]  # page -> its fragment there (in every hall: no device needed)


def _fragment(kind: Kind | str, f: Fragment) -> FragmentOut:
    url = f"{FRAGMENTS_URL}/{kind if isinstance(kind, str) else kind.name}/{f.name}"
    return FragmentOut(
        name=f.name,
        script=f"{url}.js",
        style=f"{url}.css" if f.style else None,
        routes=dict(f.routes),
        needs=list(f.needs),
    )


@router.get(
    "/kinds", response_model=list[KindOut], summary="Every registered device kind and what it adds to the pages"
)
async def kinds(view: ViewDep, _: PublicRoleDep) -> list[KindOut]:
    # Every registered kind, whether or not the hall has a device of it (as the API's routes).
    return [
        KindOut(
            name=k.name,
            label=k.label or k.name,
            description=k.description,
            devices=sum(1 for d in view.devices.values() if d.kind == k.name),
            pages={page: f.name for page, f in k.pages.items()},
            fragments={page: _fragment(k, f) for page, f in k.pages.items()},
        )
        for k in KINDS.values()
    ]


@router.get(
    "/features",
    response_model=list[FeatureOut],
    summary="The cross-kind features (the discipline ledger) and what they add to the pages",
)
async def features(view: ViewDep, _: PublicRoleDep) -> list[FeatureOut]:
    # A feature is no kind (it has no devices) but brings fragments as one does: a list of its own,
    # so /kinds stays the kinds. The ledger's only where it runs and has people (`staff[]`) to name.
    on = {"discipline": view.cfg.discipline.enabled and bool(view.cfg.staff)}
    return [
        FeatureOut(name=n, label=label, fragments={page: _fragment(n, f) for page, f in pages.items()})
        for n, (label, pages) in FEATURE_PAGES.items()
        if on.get(n, True)
    ]


@files.get(FRAGMENTS_URL + "/{kind}/{name}.{ext}", include_in_schema=False)
async def fragment_file(kind: str, name: str, ext: str) -> FileResponse:
    """A fragment's script or stylesheet: only a file a registered kind (`Kind.pages`) or a
    feature (gateway.features.PAGES) declares."""
    pages = KINDS[kind].pages if kind in KINDS else FEATURE_PAGES[kind][1] if kind in FEATURE_PAGES else {}
    found = next((f for f in pages.values() if f.name == name), None)
    path = None if found is None else found.script if ext == "js" else found.style if ext == "css" else None
    if path is None or not path.is_file():
        raise ApiError(404, "not_found", f"没有这个页面片段 (no fragment {kind}/{name}.{ext})")
    return FileResponse(path, media_type="text/javascript" if ext == "js" else "text/css")
