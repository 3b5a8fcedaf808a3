"""Process diagnostics for benchmarks and operators (only with GKCHAT_DIAGNOSTICS=on)."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response, status

from gkchat.api.errors import ERROR_RESPONSES
from gkchat.diagnostics import Diagnostics
from gkchat.domain.errors import NotFound

router = APIRouter(prefix="/diagnostics", tags=["operations"], responses=ERROR_RESPONSES)


async def enabled_diagnostics(request: Request) -> Diagnostics:
    diagnostics: Diagnostics | None = getattr(request.app.state, "diagnostics", None)
    if diagnostics is None:
        raise NotFound("There is nothing at this address.", code="not_found")
    return diagnostics


DiagnosticsDep = Annotated[Diagnostics, Depends(enabled_diagnostics)]


@router.get("")
async def read(diagnostics: DiagnosticsDep) -> dict[str, Any]:
    """Worst event-loop stall and GC pause since the last reset, memory, fds, connections."""
    return diagnostics.snapshot()


@router.post("/reset", status_code=status.HTTP_204_NO_CONTENT)
async def reset(diagnostics: DiagnosticsDep) -> Response:
    """Start counting stalls and pauses afresh."""
    diagnostics.reset()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
