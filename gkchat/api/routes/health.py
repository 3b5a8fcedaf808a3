"""Readiness: the server answers and its database does too."""

from fastapi import APIRouter
from sqlalchemy import text

from gkchat.api.deps import ServicesDep
from gkchat.api.schemas import ErrorOut, HealthOut

router = APIRouter(tags=["operations"])


@router.get(
    "/health",
    responses={503: {"model": ErrorOut, "description": "The database does not answer"}},
)
async def health(services: ServicesDep) -> HealthOut:
    """200 when the database answers; 503 in the error shape when it does not."""
    async with services.db.read() as conn:
        await conn.execute(text("SELECT 1"))
    return HealthOut(status="ok", database=services.db.dialect)
