"""``/livez``: the process answers. ``/healthz``: it can serve, its database and bus answer."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from qrcheckout.http.deps import Services

router = APIRouter(include_in_schema=False)

# A health check must answer before the prober gives up on it.
DATABASE_TIMEOUT_SECONDS = 2.0


@router.get("/livez")
async def livez() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/healthz")
async def healthz(request: Request, services: Services) -> JSONResponse:
    database, bus = await asyncio.gather(
        services.db.ping(DATABASE_TIMEOUT_SECONDS), services.bus.ping()
    )
    ready = database and bus
    return JSONResponse(
        {
            "status": "ok" if ready else "unavailable",
            "database": "ok" if database else "down",
            "bus": "ok" if bus else "down",
            "sandbox": request.app.state.sandbox is not None,
        },
        200 if ready else 503,
    )
