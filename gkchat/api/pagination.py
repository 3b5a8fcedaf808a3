"""The query parameters every paginated list takes: ``limit`` and ``before``."""

from typing import Annotated

from fastapi import Depends, Query
from pydantic import BaseModel

from gkchat.domain.pagination import LIMIT_DEFAULT, LIMIT_MAX


class PageParams(BaseModel):
    limit: int | None
    before: str | None


async def page_params(
    limit: Annotated[
        int | None,
        Query(ge=1, description=f"Page size: default {LIMIT_DEFAULT}, at most {LIMIT_MAX}"),
    ] = None,
    before: Annotated[
        str | None, Query(max_length=512, description="The next_before of the previous page")
    ] = None,
) -> PageParams:
    return PageParams(limit=limit, before=before)


PageQuery = Annotated[PageParams, Depends(page_params)]
