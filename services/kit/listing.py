"""Lists that print and lists that behave, once for every paged GET of every service.

Every route that answers `Page[...]` gets, through `install(routers)` (called by the app factory):

- `format=json|csv|xlsx`: the same list as a spreadsheet (CSV in UTF-8 with BOM, which Excel opens;
  XLSX written row by row): the caller's filters above the table, the service's column headers
  (Chinese, passed in as labels), amounts in 元 for every `*_fen` field, a total row. The items are
  exactly the JSON items (so ID numbers stay masked); at most `NOL_EXPORT_MAX_ROWS` rows (422 on
  `format` past that: narrow the filters).
- `sort=field` / `sort=-field` on the item fields the query can order by (422 naming `sort`
  otherwise, listing the ones it can); keyset paging keeps working on the new order.
- `count=true`: `total`, the number of items over all pages.
- `fields=a,b`: compact items with only those fields (422 naming `fields` for an unknown one).
- any query parameter the route does not declare is a 422 naming it, never silently ignored.

The route's own code is untouched: the parameters come as a route dependency, `pagination.paginate`
reads them (sort, count, bound) from `current()`, and `ListingMiddleware` turns the JSON answer into
the compact or printed form.
"""

import csv
import io
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, get_args
from urllib.parse import quote
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query, Request
from fastapi.routing import APIRoute
from pydantic import BaseModel

from services.kit.errors import Invalid, problem
from services.kit.settings import get_settings
from services.kit.spreadsheet import safe_cell

PARAMS = ("format", "sort", "count", "fields")
PAGING = ("limit", "cursor")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV = "text/csv; charset=utf-8"
DEFAULT_MAX_ROWS = 20_000
FILTERS_LABEL = "筛选条件"
NO_FILTERS = "无（全部）"
TOTAL_LABEL = "合计"
YUAN = "(元)"


@dataclass
class Listing:
    """What the caller asked of one list request."""

    format: str | None = None
    sort: str | None = None
    count: bool = False
    fields: list[str] | None = None
    item_fields: list[str] = field(default_factory=list)
    filters: list[tuple[str, str]] = field(default_factory=list)
    max_rows: int = DEFAULT_MAX_ROWS
    name: str = "list"
    applied: bool = False  # set by paginate: sort, count and bound were done in SQL

    @property
    def export(self) -> bool:
        return self.format in ("csv", "xlsx")

    @property
    def reshapes(self) -> bool:
        return (
            self.export or bool(self.fields) or ((self.sort is not None or self.count) and not self.applied)
        )

    @property
    def descending(self) -> bool:
        return bool(self.sort and self.sort.startswith("-"))

    @property
    def sort_field(self) -> str | None:
        return self.sort.lstrip("-") if self.sort else None


_current: ContextVar[Listing | None] = ContextVar("listing", default=None)


def current() -> Listing | None:
    """The list request being answered (None outside a list route)."""
    return _current.get()


def page_item_model(model: Any) -> type[BaseModel] | None:
    """The item model of a `Page[X]` response model, else None."""
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        return None
    fields = model.model_fields
    if (
        set(fields) - {"items", "next_cursor", "total"}
        or "items" not in fields
        or "next_cursor" not in fields
    ):
        return None
    args = get_args(fields["items"].annotation)
    item = args[0] if args else None
    return item if isinstance(item, type) and issubclass(item, BaseModel) else None


def query_names(dependant: Any) -> set[str]:
    """Every query parameter a route declares, through its dependencies (and query models)."""
    names: set[str] = set()
    stack, seen = [dependant], set()
    while stack:
        d = stack.pop()
        if id(d) in seen:
            continue
        seen.add(id(d))
        for param in d.query_params:
            model = getattr(param.field_info, "annotation", None)
            if isinstance(model, type) and issubclass(model, BaseModel):
                names |= {f.alias or n for n, f in model.model_fields.items()}
            names.add(param.alias)
        stack.extend(d.dependencies)
    return names


@dataclass
class _RouteInfo:
    allowed: frozenset[str]
    item_fields: list[str]
    name: str


_routes: dict[int, _RouteInfo] = {}


def _info(route: APIRoute) -> _RouteInfo:
    info = _routes.get(id(route))
    if info is None:
        declared = query_names(route.dependant)
        item = page_item_model(route.response_model)
        fields = [f.alias or name for name, f in item.model_fields.items()] if item else []
        name = route.path_format.rstrip("/").rsplit("/", 1)[-1].strip("{}") or "list"
        info = _RouteInfo(frozenset(declared | set(PARAMS)), fields, name)
        _routes[id(route)] = info
    return info


FormatParam = Annotated[
    Literal["json", "csv", "xlsx"] | None,
    Query(
        description="`csv` or `xlsx`: the whole list (not one page) as a spreadsheet to print, with "
        "Chinese headers, the filters above the table, amounts in 元 and a total row; ID numbers masked."
    ),
]
SortParam = Annotated[
    str | None,
    Query(
        max_length=64,
        pattern=r"^-?[A-Za-z_][A-Za-z0-9_]*$",
        description="An item field to order by, `-` first for descending (e.g. `name`, `-updated_at`); "
        "an unknown or unsortable field is a 422 naming `sort`.",
        examples=["name", "-updated_at"],
    ),
]
CountParam = Annotated[bool, Query(description="`true` adds `total`: the items over all pages.")]
FieldsParam = Annotated[
    str | None,
    Query(
        max_length=500,
        # No schema example: the items answered are a subset of the documented item, and a contract
        # fuzzer trying the example would read each subset as a violation (tests/security/fuzz_hooks.py).
        description="Comma-separated item fields to return (compact lists), e.g. `id,name`: each item then "
        "holds only those fields.",
    ),
]


async def listing_query(
    request: Request,
    format: FormatParam = None,
    sort: SortParam = None,
    count: CountParam = False,
    fields: FieldsParam = None,
) -> Listing:
    """Read and check the list parameters; refuse any query parameter the route does not declare."""
    route = request.scope.get("route")
    info = _info(route) if isinstance(route, APIRoute) else _RouteInfo(frozenset(PARAMS), [], "list")
    unknown = [k for k in dict.fromkeys(request.query_params.keys()) if k not in info.allowed]
    if unknown:
        raise Invalid(
            [unknown[0]],
            f"Unknown query parameter {unknown[0]!r}; this list takes: {', '.join(sorted(info.allowed))}",
            code="unknown_parameter",
        )
    chosen = None
    if fields is not None:
        chosen = list(dict.fromkeys(f.strip() for f in fields.split(",") if f.strip()))
        wrong = [f for f in chosen if f not in info.item_fields]
        if not chosen or wrong:
            raise Invalid(
                ["fields"],
                f"Unknown field {wrong[0] if wrong else ''!r}; the items have: {', '.join(info.item_fields)}",
            )
    if sort is not None and sort.lstrip("-") not in info.item_fields:
        raise Invalid(
            ["sort"], f"Cannot sort by {sort.lstrip('-')!r}; the items have: {', '.join(info.item_fields)}"
        )
    settings = getattr(request.app.state, "settings", None)
    listing = Listing(
        format=format if format != "json" else None,
        sort=sort,
        count=count,
        fields=chosen,
        item_fields=info.item_fields,
        filters=[(k, v) for k, v in request.query_params.multi_items() if k not in PARAMS + PAGING],
        max_rows=getattr(settings, "export_max_rows", DEFAULT_MAX_ROWS),
        name=info.name,
    )
    _current.set(listing)
    request.state.listing = listing
    return listing


SPREADSHEETS = {
    "text/csv": {"schema": {"type": "string"}},
    XLSX: {"schema": {"type": "string", "format": "binary"}},
}


def install(routers: Iterable[APIRouter]) -> None:
    """Give every `Page` GET of these routers the list parameters (idempotent; before include_router)."""
    for router in routers:
        for route in router.routes:
            if not (isinstance(route, APIRoute) and "GET" in route.methods):
                continue
            if page_item_model(route.response_model) is None:
                continue
            if any(getattr(d, "dependency", None) is listing_query for d in route.dependencies):
                continue
            declared = query_names(route.dependant)
            if declared & set(PARAMS):
                continue  # the route prints itself
            route.dependencies.append(Depends(listing_query))
            ok = dict(route.responses.get(200, {}))
            ok["content"] = {**ok.get("content", {}), **SPREADSHEETS}
            route.responses[200] = ok


# ---- the answer: compact, sorted in memory (unpaged lists), or printed ------------------------------


def _sort_key(value: Any) -> tuple:
    if value is None:
        return (0, "")
    if isinstance(value, bool | int | float):
        return (1, value)
    return (2, str(value))


def reshape(body: dict, listing: Listing) -> dict:
    """Apply what paginate could not (an unpaged list's sort and count) and `fields`."""
    items = body.get("items") or []
    if not listing.applied:
        if listing.sort_field:
            items.sort(key=lambda i: _sort_key(i.get(listing.sort_field)), reverse=listing.descending)
        if listing.count and body.get("next_cursor") is None:
            body["total"] = len(items)
    if listing.fields:
        items = [{k: item.get(k) for k in listing.fields} for item in items]
    body["items"] = items
    return body


class Labels:
    """Column headers and value labels of a service's lists (words come from the service)."""

    def __init__(
        self, columns: Mapping[str, str] | None = None, values: Mapping[str, Mapping[str, str]] | None = None
    ):
        self.columns = dict(columns or {})
        self.values = {k: dict(v) for k, v in (values or {}).items()}

    def header(self, name: str) -> str:
        label = self.columns.get(name, name)
        return label + YUAN if name.endswith("_fen") and YUAN not in label else label

    def cell(self, name: str, value: Any) -> Any:
        if value is None:
            return None
        if name.endswith("_fen") and isinstance(value, int) and not isinstance(value, bool):
            return value / 100
        words = self.values.get(name, {})
        if isinstance(value, list):
            return "、".join(str(self.cell(name, v)) for v in value)
        if isinstance(value, dict):
            return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        if isinstance(value, bool):
            return "是" if value else "否"
        if isinstance(value, str) and value in words:
            return words[value]
        return value


def _flat(value: Any) -> bool:
    return not isinstance(value, dict)


def table(
    items: list[dict], listing: Listing, labels: Labels
) -> tuple[list[str], list[list[Any]], list[Any] | None]:
    """The header, the rows and the total row (None when nothing sums) of a printed list."""
    names = listing.fields or listing.item_fields or (list(items[0]) if items else [])
    header = [labels.header(n) for n in names]
    rows = [[labels.cell(n, item.get(n)) for n in names] for item in items]
    money = [i for i, n in enumerate(names) if n.endswith("_fen")]
    total = [None] * len(names)
    if names:
        total[0] = TOTAL_LABEL
    if len(names) > 1:
        total[1] = f"{len(rows)} 条"
    for i in money:
        total[i] = sum(round(item.get(names[i]) or 0) for item in items) / 100
    return header, rows, total


def filters_line(listing: Listing, labels: Labels) -> list[str]:
    text = "；".join(f"{labels.columns.get(k, k)}={v}" for k, v in listing.filters) or NO_FILTERS
    return [FILTERS_LABEL, text]


def xlsx_bytes(
    title_rows: Sequence[Sequence[Any]],
    header: Sequence[str],
    rows: Iterable[Sequence[Any]],
    total: Sequence[Any] | None,
    *,
    sheet: str = "列表",
) -> bytes:
    """One sheet, written row by row (openpyxl write-only): lines above, bold header, rows, bold total."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    book = Workbook(write_only=True)
    ws = book.create_sheet(sheet[:31])
    for i, name in enumerate(header):
        ws.column_dimensions[get_column_letter(i + 1)].width = max(10, 2 * len(str(name)) + 4)
    bold = Font(bold=True)

    def strong(values: Sequence[Any]) -> list:
        cells = [WriteOnlyCell(ws, value=safe_cell(v)) for v in values]
        for cell in cells:
            cell.font = bold
        return cells

    for line in title_rows:
        ws.append([safe_cell(v) for v in line])
    ws.append(strong(header))
    for row in rows:
        ws.append([safe_cell(v) for v in row])
    if total is not None:
        ws.append(strong(total))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def csv_bytes(
    title_rows: Sequence[Sequence[Any]],
    header: Sequence[str],
    rows: Iterable[Sequence[Any]],
    total: Sequence[Any] | None,
) -> bytes:
    """The same as CSV: UTF-8 with BOM (Excel in China opens it), formula-safe cells."""
    out = io.StringIO()
    writer = csv.writer(out)
    for line in (*title_rows, header):
        writer.writerow([safe_cell(v) for v in line])
    for row in rows:
        writer.writerow(["" if v is None else safe_cell(v) for v in row])
    if total is not None:
        writer.writerow(["" if v is None else v for v in total])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def spreadsheet(
    kind: str,
    title_rows: Sequence[Sequence[Any]],
    header: Sequence[str],
    rows: Iterable[Sequence[Any]],
    total: Sequence[Any] | None,
    *,
    sheet: str = "列表",
) -> bytes:
    if kind == "xlsx":
        return xlsx_bytes(title_rows, header, rows, total, sheet=sheet)
    return csv_bytes(title_rows, header, rows, total)


def attachment(kind: str, name: str) -> dict[str, str]:
    """Content-Type and Content-Disposition for a printed file `name-YYYYMMDD.kind`."""
    printed = datetime.now(UTC).astimezone(ZoneInfo(get_settings().timezone))  # the county's date
    filename = f"{name}-{printed:%Y%m%d}.{kind}"
    return {
        "content-type": XLSX if kind == "xlsx" else CSV,
        "content-disposition": f'attachment; filename="{filename.encode("ascii", "replace").decode()}"; '
        f"filename*=UTF-8''{quote(filename)}",
    }


def render(body: dict, listing: Listing, labels: Labels) -> tuple[bytes, dict[str, str]]:
    """The printed form of a list answer."""
    items = body.get("items") or []
    header, rows, total = table(items, listing, labels)
    lines = [filters_line(listing, labels)]
    if body.get("next_cursor"):
        lines.append(["注意", "仅含第一页；请缩小筛选范围"])
    data = spreadsheet(listing.format or "csv", lines, header, rows, total)
    return data, attachment(listing.format or "csv", listing.name)


class ListingMiddleware:
    """Turn a list route's JSON answer into its compact, sorted or printed form (pure ASGI)."""

    def __init__(self, app, labels: Labels | None = None):
        self.app = app
        self.labels = labels or Labels()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope.get("method") not in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        start: dict | None = None
        chunks: list[bytes] = []
        passthrough = False

        async def capture(message):
            nonlocal start, passthrough
            if passthrough:
                await send(message)
                return
            if message["type"] == "http.response.start":
                listing = (scope.get("state") or {}).get("listing")
                if listing is None or not listing.reshapes or message["status"] != 200:
                    passthrough = True
                    await send(message)
                    return
                start = message
                return
            if message["type"] != "http.response.body":
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body"):
                return
            await self._answer(scope, start, b"".join(chunks), send)

        await self.app(scope, receive, capture)

    async def _answer(self, scope, start: dict, body: bytes, send) -> None:
        listing: Listing = scope["state"]["listing"]
        try:
            data = json.loads(body)
        except ValueError:
            data = None
        headers = [
            (k, v) for k, v in start["headers"] if k.lower() not in (b"content-length", b"content-type")
        ]
        if not isinstance(data, dict) or not isinstance(data.get("items"), list):
            out, extra = body, {"content-type": "application/json"}
        elif (listing.sort or listing.count) and not listing.applied and data.get("next_cursor"):
            loc = "sort" if listing.sort else "count"
            response = problem(
                422,
                f"This list cannot {loc} over its pages",
                errors=[{"loc": [loc], "msg": f"{loc} is not supported on this list", "code": "invalid"}],
            )
            out, extra = response.body, {"content-type": response.media_type}
            start = {**start, "status": 422}
        else:
            data = reshape(data, listing)
            if listing.export:
                out, extra = render(data, listing, self.labels)
            else:
                out, extra = (
                    json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode(),
                    {"content-type": "application/json"},
                )
        headers += [(k.encode(), v.encode()) for k, v in extra.items()]
        headers.append((b"content-length", str(len(out)).encode()))
        await send({**start, "headers": headers})
        await send({"type": "http.response.body", "body": out if scope["method"] != "HEAD" else b""})


def rows_of(items: Iterable[Mapping[str, Any]], names: Sequence[str], labels: Labels) -> Iterator[list[Any]]:
    """Rows of the given fields, labelled (for services printing their own lists)."""
    for item in items:
        yield [labels.cell(n, item.get(n)) for n in names]
