"""Product reads: encoded answers kept by this replica's cache, loaded from db-service on a miss."""

from __future__ import annotations

from pydantic import TypeAdapter

from merchstore.store_api import domain
from merchstore.store_api.adapters.db_client import StoreDataClient
from merchstore.store_api.adapters.product_cache import ProductCache

_product_list_json = TypeAdapter(list[domain.Product])
_product_json = TypeAdapter(domain.Product)

ALL_PRODUCTS = "all"
"""The cache key of the whole list (product ids are integers)."""


class ProductAnswers:
    """The JSON answers of the product routes, encoded once per load and kept by the cache.

    One object for what a product read needs (the cache and the db-service client), so the
    hottest routes of store-api resolve one dependency, not two.
    """

    def __init__(self, cache: ProductCache, store: StoreDataClient) -> None:
        self._cache = cache
        self._store = store

    async def every_product(self) -> bytes:
        """Every product with its price and stock, as JSON."""
        return await self._cache.get(ALL_PRODUCTS, self._load_all)

    async def product(self, product_id: int) -> bytes:
        """One product as JSON; raises the client's failure (NOT_FOUND) if there is none."""

        async def load() -> bytes:
            return _product_json.dump_json(await self._store.get_product(product_id))

        return await self._cache.get(product_id, load)

    async def _load_all(self) -> bytes:
        return _product_list_json.dump_json(await self._store.list_products())
