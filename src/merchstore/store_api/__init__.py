"""store-api: the merch store's REST API (products, users, orders, JWT)."""
