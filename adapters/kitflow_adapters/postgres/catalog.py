"""The item catalog (manufacturers and items) and customers' kits."""

from __future__ import annotations

from collections.abc import Collection
from typing import Final

import msgspec

from kitflow.domain.catalog import Item, ItemFilter, Manufacturer, sku_taken
from kitflow.domain.errors import Conflict, NotFound
from kitflow.domain.kit import Kit, KitFilter, KitItem
from kitflow.domain.paging import Page, PageSpec
from kitflow_adapters.postgres.repository import Filter, Owned, Repository, Row
from kitflow_adapters.postgres.text import loaded, loaded_or_none, stored, stored_or_none

_ITEM: Final = "t.id, t.name, t.sku, t.model, t.manufacturer_id, t.orderable"
_KIT: Final = (
    "t.id, t.customer_id, t.name, t.archived, t.created_at, t.updated_at,"
    " ARRAY(SELECT ARRAY[l.item_id, l.count] FROM kit_items l WHERE l.kit_id = t.id ORDER BY l.position)"
)


_MAKERS: Final = "SELECT id, name FROM manufacturers WHERE id = ANY(%s::bigint[])"
_ITEMS_WITH_MAKERS: Final = (
    f"SELECT {_ITEM}, m.name FROM items t LEFT JOIN manufacturers m ON m.id = t.manufacturer_id"
    " WHERE t.id = ANY(%s::bigint[]) ORDER BY t.id"
)


def _maker(row: Row) -> Manufacturer:
    return Manufacturer(id=row[0], name=loaded(row[1]))


def _item(row: Row) -> Item:
    return Item(
        id=row[0], name=loaded(row[1]), sku=loaded(row[2]), model=loaded_or_none(row[3]), manufacturer_id=row[4],
        orderable=row[5],
    )


def _kit(row: Row) -> Kit:
    return Kit(
        id=row[0], customer_id=row[1], name=loaded(row[2]), archived=row[3], created_at=row[4], updated_at=row[5],
        kit_items=tuple(KitItem(item_id=item_id, count=count) for item_id, count in row[6]),
    )


class PostgresManufacturers(Repository):
    __slots__ = ()

    def add(self, name: str) -> Manufacturer:
        self._s.writing()
        row = self._one(
            "INSERT INTO manufacturers (name) VALUES (%s)"
            " ON CONFLICT ON CONSTRAINT manufacturers_name DO NOTHING RETURNING id",
            (stored(name),),
        )
        if row is None:
            raise Conflict("duplicate_manufacturer", "a manufacturer of this name exists")
        return Manufacturer(id=row[0], name=name)

    def by_name(self, name: str) -> Manufacturer | None:
        row = self._one(
            "SELECT id FROM manufacturers WHERE name = %s", (stored(name),), locks=(("manufacturer", name),)
        )
        return None if row is None else Manufacturer(id=row[0], name=name)

    def get_many(self, ids: Collection[int]) -> dict[int, Manufacturer]:
        if not ids:
            return {}
        if not self._s.write:  # those read with their items already (one snapshot: they hold)
            return self._many("manufacturers", ids, lambda missing: self._all(_MAKERS, (missing,)), _maker)
        return {row[0]: _maker(row) for row in self._all(_MAKERS, (list(ids),))}


class PostgresItems(Repository):
    __slots__ = ()

    def _taken(self, sku: str) -> Conflict:
        holder = self.id_by_sku(sku)
        assert holder is not None
        return sku_taken(holder)

    def add(self, item: Item) -> Item:
        self._s.writing()
        row = self._one(
            "INSERT INTO items (name, sku, model, manufacturer_id, orderable) VALUES (%s, %s, %s, %s, %s)"
            " ON CONFLICT ON CONSTRAINT items_sku DO NOTHING RETURNING id",
            (stored(item.name), stored(item.sku), stored_or_none(item.model), item.manufacturer_id, item.orderable),
        )
        if row is None:
            raise self._taken(item.sku)
        return msgspec.structs.replace(item, id=row[0])

    def update(self, item: Item) -> None:
        self._s.writing()
        self._forget("items", item.id)
        row = self._one(
            "WITH holder AS (SELECT id FROM items WHERE sku = %(sku)s AND id <> %(id)s),"
            " changed AS (UPDATE items SET name = %(name)s, sku = %(sku)s, model = %(model)s,"
            " manufacturer_id = %(manufacturer_id)s, orderable = %(orderable)s"
            " WHERE id = %(id)s AND NOT EXISTS (SELECT FROM holder) RETURNING id)"
            " SELECT EXISTS (SELECT FROM changed), EXISTS (SELECT FROM items WHERE id = %(id)s)",
            {
                "id": item.id, "name": stored(item.name), "sku": stored(item.sku), "model": stored_or_none(item.model),
                "manufacturer_id": item.manufacturer_id, "orderable": item.orderable,
            },  # type: ignore[arg-type]
        )
        assert row is not None
        changed, exists = row
        if not exists:
            raise NotFound(detail="no such item")
        if not changed:
            raise self._taken(item.sku)

    def get(self, item_id: int) -> Item:
        row = self._one(f"SELECT {_ITEM} FROM items t WHERE t.id = %s{self._for_update}", (item_id,))
        if row is None:
            raise NotFound(detail="no such item")
        return self._remember("items", item_id, _item(row))

    def get_many(self, ids: Collection[int]) -> dict[int, Item]:
        if self._s.write:
            query = f"SELECT {_ITEM} FROM items t WHERE t.id = ANY(%s::bigint[]) ORDER BY t.id{self._for_share}"
            return self._many("items", ids, lambda missing: self._all(query, (missing,)), _item)
        return self._many("items", ids, self._with_makers, _item)

    def _with_makers(self, ids: list[int]) -> list[Row]:
        """The items' rows, each with its manufacturer's name: a read transaction remembers the
        manufacturers too, which the items' details then take without a round trip of their own."""
        rows = self._all(_ITEMS_WITH_MAKERS, (ids,))
        for row in rows:
            if row[4] is not None:
                self._remember("manufacturers", row[4], Manufacturer(id=row[4], name=loaded(row[6])))
        return rows

    def id_by_sku(self, sku: str) -> int | None:
        row = self._one("SELECT id FROM items WHERE sku = %s", (stored(sku),), locks=(("sku", sku),))
        return None if row is None else row[0]

    def page(self, where: ItemFilter, spec: PageSpec) -> Page[Item]:
        filters: list[Filter] = []
        if where.orderable is not None:
            filters.append(("t.orderable = %s", (where.orderable,)))
        return self._page(table="items", columns=_ITEM, filters=filters, spec=spec, decode=_item)


class PostgresKits(Owned):
    __slots__ = ()
    table, columns, what = "kits", _KIT, "kit"

    def _decode(self, row: Row) -> Kit:
        return _kit(row)

    def add(self, kit: Kit) -> Kit:
        self._s.writing()
        row = self._one(
            "WITH k AS (INSERT INTO kits (customer_id, name, archived, created_at, updated_at)"
            " VALUES (%s, %s, %s, %s, %s) RETURNING id, customer_id),"
            " l AS (INSERT INTO kit_items (kit_id, position, customer_id, item_id, count)"
            " SELECT k.id, x.position, k.customer_id, x.item_id, x.count"
            " FROM k, unnest(%s::bigint[], %s::integer[]) WITH ORDINALITY AS x (item_id, count, position))"
            " SELECT id FROM k",
            (
                kit.customer_id, stored(kit.name), kit.archived, kit.created_at, kit.updated_at,
                [line.item_id for line in kit.kit_items], [line.count for line in kit.kit_items],
            ),
        )
        assert row is not None
        return msgspec.structs.replace(kit, id=row[0])

    def update(self, kit: Kit) -> None:
        self._s.writing()
        self._forget("kits", kit.id)
        changed = self._s.run(
            "UPDATE kits SET name = %s, archived = %s, updated_at = %s WHERE id = %s AND customer_id = %s",
            (stored(kit.name), kit.archived, kit.updated_at, kit.id, kit.customer_id),
        ).rowcount
        if changed == 0:
            raise NotFound(detail="no such kit")

    def page(self, customer_id: int, where: KitFilter, spec: PageSpec) -> Page[Kit]:
        filters: list[Filter] = [("t.customer_id = %s", (customer_id,))]
        if where.item_id is not None:
            filters.append(
                ("t.id IN (SELECT l.kit_id FROM kit_items l WHERE l.customer_id = %s AND l.item_id = %s)",
                 (customer_id, where.item_id))
            )
        if where.archived is not None:
            filters.append(("t.archived = %s", (where.archived,)))
        return self._page(table="kits", columns=_KIT, filters=filters, spec=spec, decode=_kit)
