-- Users and products.
--
-- Every migration runs inside one transaction opened by `scripts/db migrate`: do not write
-- BEGIN/COMMIT here, and nothing that refuses a transaction (CREATE INDEX CONCURRENTLY,
-- VACUUM). A migration once applied is never edited: add the next number instead.

-- Trigram indexes: `q=` on the product list is a substring filter (name ILIKE '%q%'), which a
-- B-tree or a tsvector cannot serve; a pg_trgm GIN index can (for q of 3 characters or more).
-- pg_trgm is a trusted extension: the database owner may create it.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- Money is bigint in the currency's smallest unit (the shop sells in rupiah, so harga = 15000
-- is Rp 15.000): exact integer arithmetic in C++ (int64) and in JSON, no decimal library, no
-- string round trip through libpqxx; total_harga = harga * jumlah cannot round.

CREATE TABLE users (
  id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  email         text        NOT NULL CHECK (length(email) BETWEEN 3 AND 254),
  password_hash text        NOT NULL,
  name          text        NOT NULL DEFAULT '' CHECK (length(name) <= 200),
  roles         text[]      NOT NULL DEFAULT '{}',
  created_at    timestamptz NOT NULL DEFAULT now()
);
-- One account per address whatever its case; the address keeps the spelling the user typed.
-- Look-ups: WHERE lower(email) = lower($1). A taken email on register is unique_violation
-- (SQLSTATE 23505) on users_email_lower_key -> 409.
CREATE UNIQUE INDEX users_email_lower_key ON users (lower(email));

CREATE TABLE products (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name        text        NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  description text        NOT NULL DEFAULT '',
  price       bigint      NOT NULL CHECK (price >= 0),
  stock       integer     NOT NULL DEFAULT 0 CHECK (stock >= 0),
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  -- DELETE /api/products/{id} sets this instead of deleting the row: orders keep pointing
  -- at the product they bought. Reads and lists filter on deleted_at IS NULL.
  deleted_at  timestamptz
);
-- The list: WHERE deleted_at IS NULL ORDER BY id LIMIT $1 OFFSET $2.
CREATE INDEX products_list_idx ON products (id) WHERE deleted_at IS NULL;
-- The filter: WHERE deleted_at IS NULL AND name ILIKE '%' || $q || '%' ORDER BY id
-- ($q with \, % and _ escaped by the service).
-- fastupdate off: products change rarely, so entries go straight into the index instead of a
-- pending list that every search would scan until the next vacuum.
CREATE INDEX products_name_trgm_idx ON products USING gin (name gin_trgm_ops)
  WITH (fastupdate = off) WHERE deleted_at IS NULL;

-- updated_at follows every UPDATE, whoever writes it.
CREATE FUNCTION set_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.updated_at := now();
  RETURN NEW;
END
$$;
CREATE TRIGGER products_set_updated_at BEFORE UPDATE ON products
  FOR EACH ROW EXECUTE FUNCTION set_updated_at();
