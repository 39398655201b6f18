"""The item catalog (manufacturers and items, service-wide) and each customer's kits."""

from __future__ import annotations

import sqlite3
from collections.abc import Collection
from typing import Any, Final

from kitflow.domain.catalog import Item, ItemFilter, Manufacturer, sku_taken
from kitflow.domain.errors import Conflict
from kitflow.domain.kit import Kit, KitFilter, KitItem
from kitflow.domain.paging import Page, PageSpec
from kitflow.domain.stored import Restorer
from kitflow_adapters.sqlite.codec import JsonColumn, from_ms, remembered, to_json, to_ms
from kitflow_adapters.sqlite.paging import Where, page
from kitflow_adapters.sqlite.repository import Owned, Repository, by_ids, found, violates, with_id

_KIT_LINES: Final = JsonColumn(tuple[KitItem, ...])
_KIT: Final = Restorer(Kit)


@remembered(256)
def _manufacturer(row: Any) -> Manufacturer:
    return Manufacturer(id=row[0], name=row[1])


class SqliteManufacturers(Repository):
    __slots__ = ()
    shown = True

    def add(self, name: str) -> Manufacturer:
        try:
            cur = self._writing().execute("INSERT INTO manufacturers (name) VALUES (?)", (name,))
        except sqlite3.IntegrityError as error:
            if violates(error, "manufacturers.name"):
                raise Conflict("duplicate_manufacturer", "a manufacturer of this name exists") from None
            raise
        return Manufacturer(id=cur.lastrowid, name=name)  # type: ignore[arg-type]

    def by_name(self, name: str) -> Manufacturer | None:
        row = self._conn.execute("SELECT id, name FROM manufacturers WHERE name = ?", (name,)).fetchone()
        return None if row is None else _manufacturer(row)

    def get_many(self, ids: Collection[int]) -> dict[int, Manufacturer]:
        if not ids:
            return {}
        read = self._tx.makers
        if read and all(i in read for i in ids):  # read with their items in this transaction
            return {i: read[i] for i in ids}
        return self._remembered("manufacturers", 0, ids, self._read_many)

    def _read_many(self, ids: Collection[int]) -> dict[int, Manufacturer]:
        rows = by_ids(
            self._conn,
            ids,
            one="SELECT id, name FROM manufacturers WHERE id = ?",
            many="SELECT id, name FROM manufacturers WHERE id IN (SELECT value FROM json_each(?))",
        )
        return {row[0]: _manufacturer(row) for row in rows}


_ITEM_COLUMNS: Final = "id, name, sku, model, manufacturer_id, orderable"
_WITH_MAKER: Final = (
    "SELECT items.id, items.name, sku, model, manufacturer_id, orderable, manufacturers.name"
    " FROM items LEFT JOIN manufacturers ON manufacturers.id = manufacturer_id"
)


@remembered(1024)
def _item(row: Any) -> Item:
    return Item(id=row[0], name=row[1], sku=row[2], model=row[3], manufacturer_id=row[4], orderable=bool(row[5]))


@remembered(1024)
def _item_and_maker(row: Any) -> tuple[Item, Manufacturer | None]:
    """An item and its manufacturer from a row of ``_WITH_MAKER``."""
    item = _item(row[:6])
    return item, None if row[4] is None else _manufacturer((row[4], row[6]))


class SqliteItems(Repository):
    __slots__ = ()
    shown = True

    def _claiming_sku(self, sql: str, params: tuple[Any, ...], item: Item) -> sqlite3.Cursor:
        """Run the write ``sql``; a taken sku raises Conflict(duplicate_sku) naming its item."""
        try:
            return self._writing().execute(sql, params)
        except sqlite3.IntegrityError as error:
            if violates(error, "items.sku"):
                holder = self.id_by_sku(item.sku)
                raise sku_taken(holder) from None
            raise

    def add(self, item: Item) -> Item:
        cur = self._claiming_sku(
            "INSERT INTO items (name, sku, model, manufacturer_id, orderable) VALUES (?, ?, ?, ?, ?)",
            (item.name, item.sku, item.model, item.manufacturer_id, int(item.orderable)),
            item,
        )
        return with_id(item, cur.lastrowid)

    def update(self, item: Item) -> None:
        cur = self._claiming_sku(
            "UPDATE items SET name = ?, sku = ?, model = ?, manufacturer_id = ?, orderable = ? WHERE id = ?",
            (item.name, item.sku, item.model, item.manufacturer_id, int(item.orderable), item.id),
            item,
        )
        if cur.rowcount == 0:
            found(None, "item")

    def get(self, item_id: int) -> Item:
        return found(self.get_many((item_id,)).get(item_id), "item")

    def get_many(self, ids: Collection[int]) -> dict[int, Item]:
        if not ids:
            return {}
        return self._remembered("items", 0, ids, self._read_many)

    def _read_many(self, ids: Collection[int]) -> dict[int, Item]:
        """The items, read with their manufacturers in one statement: the transaction keeps those for
        ``SqliteManufacturers.get_many`` (a manufacturer is only ever added, never changed, so one
        read stays true until the transaction ends)."""
        rows = by_ids(
            self._conn,
            ids,
            one=f"{_WITH_MAKER} WHERE items.id = ?",
            many=f"{_WITH_MAKER} WHERE items.id IN (SELECT value FROM json_each(?))",
        )
        found = {}
        makers = self._tx.makers
        for row in rows:
            item, maker = _item_and_maker(row)
            found[item.id] = item
            if maker is not None:
                makers[maker.id] = maker
        return found

    def id_by_sku(self, sku: str) -> int | None:
        row = self._conn.execute("SELECT id FROM items WHERE sku = ?", (sku,)).fetchone()
        return None if row is None else row[0]

    def page(self, where: ItemFilter, spec: PageSpec) -> Page[Item]:
        clause = Where()
        if where.orderable is not None:
            clause.add("orderable = ?", int(where.orderable))
        return page(self._conn, table="items", columns=_ITEM_COLUMNS, where=clause, spec=spec, decode=_item)


@remembered(256)
def _kit(row: Any) -> Kit:
    return _KIT(
        id=row[0],
        customer_id=row[1],
        name=row[2],
        archived=bool(row[3]),
        kit_items=_KIT_LINES.decode(row[4]),
        created_at=from_ms(row[5]),
        updated_at=from_ms(row[6]),
    )


class SqliteKits(Owned):
    __slots__ = ()
    shown = True
    table, what = "kits", "kit"
    columns = "id, customer_id, name, archived, lines, created_at, updated_at"
    decode = staticmethod(_kit)

    def add(self, kit: Kit) -> Kit:
        conn = self._writing()
        cur = conn.execute(
            "INSERT INTO kits (customer_id, name, archived, lines, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)",
            (
                kit.customer_id,
                kit.name,
                int(kit.archived),
                to_json(kit.kit_items),
                to_ms(kit.created_at),
                to_ms(kit.updated_at),
            ),
        )
        kit_id = cur.lastrowid
        conn.executemany(
            "INSERT INTO kit_items (kit_id, item_id) VALUES (?, ?)", [(kit_id, line.item_id) for line in kit.kit_items]
        )
        return with_id(kit, kit_id)

    def update(self, kit: Kit) -> None:
        cur = self._writing().execute(
            "UPDATE kits SET name = ?, archived = ?, updated_at = ? WHERE id = ? AND customer_id = ?",
            (kit.name, int(kit.archived), to_ms(kit.updated_at), kit.id, kit.customer_id),
        )
        if cur.rowcount == 0:
            found(None, self.what)

    def page(self, customer_id: int, where: KitFilter, spec: PageSpec) -> Page[Kit]:
        clause = Where().add("customer_id = ?", customer_id)
        if where.item_id is not None:
            clause.add("id IN (SELECT kit_id FROM kit_items WHERE item_id = ?)", where.item_id)
        if where.archived is not None:
            clause.add("archived = ?", int(where.archived))
        return self._page(clause, spec)
