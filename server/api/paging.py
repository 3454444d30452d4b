"""One page of a list, the same way on every operator endpoint: count, page, pages, links.

Routers declare `page` and `page_size` in their query schema (PageQuery) and answer
`paginate(request, rows, query, to_json)`; a page past the end is a 404 naming `page`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from django.core.paginator import EmptyPage, Paginator
from django.db.models import QuerySet
from django.http import HttpRequest
from ninja import Field, Schema

from server.api.errors import ApiError

MAX_PAGE_SIZE = 500
DEFAULT_PAGE_SIZE = 100


class PageQuery(Schema):
    page: int = Field(1, ge=1)
    page_size: int = Field(DEFAULT_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE)


class Page(Schema):
    count: int
    page: int
    pages: int
    next: str | None
    previous: str | None


def paginate(
    request: HttpRequest,
    rows: QuerySet | Sequence[Any],
    query: PageQuery,
    to_json: Callable[[Any], Any],
) -> dict[str, Any]:
    paginator = Paginator(rows, query.page_size)
    try:
        page = paginator.page(query.page)
    except EmptyPage:
        raise ApiError(404, f"there are {paginator.num_pages} pages", field="page") from None

    def link(number: int) -> str:
        params = request.GET.copy()
        params["page"] = str(number)
        return request.build_absolute_uri(f"{request.path}?{params.urlencode()}")

    return {
        "count": paginator.count,
        "page": page.number,
        "pages": paginator.num_pages,
        "next": link(page.next_page_number()) if page.has_next() else None,
        "previous": link(page.previous_page_number()) if page.has_previous() else None,
        "results": [to_json(row) for row in page.object_list],
    }
