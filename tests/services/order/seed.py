"""Rows the order tests need: users (orders reference them) and products."""


def seed(stores):
    """Inserts an admin, a courier, two customers and three products (one deleted). Returns
    a dict of their ids."""
    ids = {}
    for name, roles in (("admin", "{admin}"), ("courier", "{courier}"), ("alice", "{}"),
                        ("bob", "{}")):
        rows = stores.psql(f"INSERT INTO users (email, password_hash, name, roles) "
                           f"VALUES ('{name}@shop.test', 'x', '{name}', '{roles}') RETURNING id")
        ids[name] = int(rows[0][0])
    for name, price, deleted in (("kopi", 15000, "NULL"), ("teh", 8000, "NULL"),
                                 ("gone", 5000, "now()")):
        rows = stores.psql(f"INSERT INTO products (name, price, stock, deleted_at) "
                           f"VALUES ('{name}', {price}, 100, {deleted}) RETURNING id")
        ids[name] = int(rows[0][0])
    return ids
