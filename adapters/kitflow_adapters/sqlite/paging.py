"""List queries: a filter's WHERE clause, and one page of it read by an index range.

A keyset page (``spec.after``) is ``WHERE filters AND id > after ORDER BY id LIMIT n``: a bounded
range of the filter's index whatever its depth. A page by number skips ``offset`` rows inside a
subquery that reads only the index (a covering index: every index holds the id), then fetches
just the page's rows. ``total`` is a ``count(*)`` over the same index, skipped when the page
itself shows it (a first page that is not full).
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from kitflow.domain.paging import Page, PageSpec

T = TypeVar("T")


class Where:
    """A WHERE clause: terms joined by AND, and their parameters in order. ``hint`` follows the
    table's name in FROM: `` NOT INDEXED`` makes a term that lists row ids (a full-text match)
    drive the query, rather than a walk of the table's indexes."""

    __slots__ = ("terms", "params", "hint")

    def __init__(self) -> None:
        self.terms: list[str] = []
        self.params: list[Any] = []
        self.hint = ""

    def add(self, term: str, *params: Any) -> Where:
        self.terms.append(term)
        self.params.extend(params)
        return self


@functools.lru_cache(maxsize=2048)
def page_sql(table: str, columns: str, terms: tuple[str, ...], mode: str, descending: bool) -> str:
    """The SQL of one list query; ``mode`` is ``first``, ``after``, ``offset`` or ``count``.
    Cached, so that each shape of query is one prepared statement per connection."""
    where = " AND ".join(terms) or "1"
    order = "DESC" if descending else "ASC"
    if mode == "count":
        return f"SELECT count(*) FROM {table} WHERE {where}"
    if mode == "first":
        return f"SELECT {columns} FROM {table} WHERE {where} ORDER BY id {order} LIMIT ?"
    if mode == "after":
        beyond = "<" if descending else ">"
        return f"SELECT {columns} FROM {table} WHERE {where} AND id {beyond} ? ORDER BY id {order} LIMIT ?"
    if mode == "offset":
        return (
            f"SELECT {columns} FROM {table} WHERE id IN "
            f"(SELECT id FROM {table} WHERE {where} ORDER BY id {order} LIMIT ? OFFSET ?) ORDER BY id {order}"
        )
    raise ValueError(mode)


def page(
    conn: sqlite3.Connection,
    *,
    table: str,
    columns: str,
    where: Where,
    spec: PageSpec,
    decode: Callable[[Any], T],
    total_sql: tuple[str, Sequence[Any]] | None = None,
) -> Page[T]:
    """One page of ``table``'s rows matching ``where``, decoded, with the total that match:
    read by ``total_sql`` (a query and its parameters) when the caller keeps it, else counted."""
    terms = tuple(where.terms)
    params = where.params
    table += where.hint
    if spec.after is not None:
        sql = page_sql(table, columns, terms, "after", spec.descending)
        rows = conn.execute(sql, [*params, spec.after, spec.size + 1]).fetchall()
    elif spec.offset:
        sql = page_sql(table, columns, terms, "offset", spec.descending)
        rows = conn.execute(sql, [*params, spec.size + 1, spec.offset]).fetchall()
    else:
        sql = page_sql(table, columns, terms, "first", spec.descending)
        rows = conn.execute(sql, [*params, spec.size + 1]).fetchall()
    if spec.after is None and len(rows) <= spec.size and (rows or not spec.offset):
        total = spec.offset + len(rows)
    elif total_sql is not None:
        row = conn.execute(*total_sql).fetchone()
        total = 0 if row is None else row[0]
    else:
        total = conn.execute(page_sql(table, columns, terms, "count", False), params).fetchone()[0]
    return Page(items=tuple(decode(row) for row in rows[: spec.size]), total=total, more=len(rows) > spec.size)
