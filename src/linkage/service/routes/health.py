"""``GET /health``: the one route that needs no token."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["health"])


@router.get("/health")
def health() -> dict[str, str]:
    """Say the service is up."""
    return {"status": "ok"}
