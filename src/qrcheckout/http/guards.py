"""Refusals every route shares, made before a route reads its input."""

from __future__ import annotations

from starlette.requests import HTTPConnection

from qrcheckout.errors import Malformed, NotFound
from qrcheckout.inputs import is_one_line


async def plain_request_line(conn: HTTPConnection) -> None:
    """No control character, line break or tab in a path or query parameter: no id or search
    holds one, and PostgreSQL cannot even compare text holding NUL. A path with one names
    nothing (404); a query parameter with one is malformed (400). Async: every request runs it,
    and a plain function would be sent to the thread pool each time."""
    for name, value in conn.path_params.items():
        if isinstance(value, str) and not is_one_line(value):
            raise NotFound("not_found", f"Nothing is found here: {name} holds a control character.")
    for name, value in conn.query_params.multi_items():
        if not (is_one_line(name) and is_one_line(value)):
            raise Malformed(
                "invalid_parameter",
                f"The query parameter {name!r} holds a control character.",
                field=name,
            )
