-- Development data: a few products, so a new user sees something at once.
-- Idempotent: a product is added only when none of that name exists (deleted ones count,
-- so a product an admin deleted does not come back). Users are not seeded here: the admin
-- and the courier are created through user-service, which owns password hashing.
-- Applied by `scripts/db seed` (as role shop, in one transaction). Prices in rupiah.
INSERT INTO products (name, description, price, stock)
SELECT v.name, v.description, v.price, v.stock
FROM (VALUES
  ('Kopi Arabika Gayo 250 g', 'Biji kopi sangrai medium dari Aceh Tengah.', 85000, 120),
  ('Teh Melati 100 g', 'Teh hijau wangi melati, daun utuh.', 32000, 200),
  ('Sambal Bawang 200 ml', 'Sambal bawang goreng, pedas sedang.', 27500, 150),
  ('Batik Tulis Solo', 'Kain batik tulis katun, 2 x 1,15 m.', 450000, 15),
  ('Keripik Singkong Balado 250 g', 'Keripik singkong pedas manis.', 18000, 300),
  ('Tas Anyaman Pandan', 'Tas tangan anyaman pandan, buatan Tasikmalaya.', 125000, 40)
) AS v (name, description, price, stock)
WHERE NOT EXISTS (SELECT 1 FROM products p WHERE p.name = v.name);
