"""The rating pad's HTTP routes: its ratings and the 差评 work orders they open (`Kind.router`)."""

from __future__ import annotations

from fastapi import APIRouter

from gateway.kinds.rating_pad import exports, ratings_api, workorders_api

router = APIRouter()
router.include_router(exports.router)
router.include_router(ratings_api.router)
router.include_router(workorders_api.router)
