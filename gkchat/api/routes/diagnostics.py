"""Process diagnostics for benchmarks and operators (only with GKCHAT_DIAGNOSTICS=on)."""

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response, status

from gkchat.api.errors import ERROR_RESPONSES
from gkchat.diagnostics import Diagnostics, count_open_fds
from gkchat.domain.errors import NotFound

router = APIRouter(prefix="/diagnostics", tags=["operations"], responses=ERROR_RESPONSES)


async def enabled_diagnostics(request: Request) -> Diagnostics:
    diagnostics: Diagnostics | None = getattr(request.app.state, "diagnostics", None)
    if diagnostics is None:
        raise NotFound("There is nothing at this address.", code="not_found")
    return diagnostics


DiagnosticsDep = Annotated[Diagnostics, Depends(enabled_diagnostics)]


@router.get("")
async def read(diagnostics: DiagnosticsDep, gc_frozen: bool = False) -> dict[str, Any]:
    """Worst event-loop stall and GC pause since the last reset, memory, fds, connections;
    with ``gc_frozen=true`` also the objects the collector has frozen (counting them walks
    them all: about 130 ms with 10,000 sockets open, during which no socket is served)."""
    open_fds = await asyncio.to_thread(count_open_fds)
    return diagnostics.snapshot(open_fds=open_fds, frozen=gc_frozen)


@router.post("/reset", status_code=status.HTTP_204_NO_CONTENT)
async def reset(diagnostics: DiagnosticsDep) -> Response:
    """Start counting stalls and pauses afresh."""
    diagnostics.reset()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
