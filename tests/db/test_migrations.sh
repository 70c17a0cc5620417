#!/usr/bin/env bash
# db.migrations: the schema made by config/migrations, on a throwaway cluster.
#   1. scripts/db init + start in a temporary folder on a free port;
#   2. migrate twice: the second run applies nothing and changes nothing;
#   3. every table, column (type, nullability), constraint and index is there;
#   4. the planner can use the indexes for the services' queries;
#   5. inserts against the constraints: case-insensitive email, (id_user, idempotency_key),
#      the history's foreign key to orders, status values, total_harga = harga * jumlah;
#   6. a failing migration applies nothing and makes migrate exit non-zero naming its file;
#   7. seed twice adds the products once.
# The cluster is stopped by its pid and the folder removed, whatever happens.
set -euo pipefail
root=${PROJECT_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
db="$root/scripts/db"

tmp=$(mktemp -d /tmp/db-test.XXXXXX)
chmod 755 "$tmp"  # as root, the server runs as another user, which must reach its folder
export PGDATA_DIR="$tmp/pg"
PG_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export PG_PORT
export PG_INITDB_NOSYNC=1

cleanup() {
  local rc=$?
  "$db" stop >/dev/null 2>&1 || true
  rm -rf "$tmp"
  exit "$rc"
}
trap cleanup EXIT

failures=0
pass() { echo "ok   $1"; }
fail() { echo "FAIL $1"; failures=$((failures + 1)); }

# q SQL: one query's rows, unaligned, |-separated.
q() { "$db" psql -q -tA -v ON_ERROR_STOP=1 -c "$1"; }

# expect NAME ACTUAL EXPECTED
expect() {
  if [ "$2" = "$3" ]; then
    pass "$1"
  else
    fail "$1"
    echo "  expected: $3" | sed '2,$s/^/            /'
    echo "  actual:   $2" | sed '2,$s/^/            /'
  fi
}

# sqlstate NAME SQL EXPECTED_STATE: the statement fails with that SQLSTATE (or succeeds: "ok").
sqlstate() {
  local out state
  out=$("$db" psql -q -tA -v ON_ERROR_STOP=1 -v VERBOSITY=verbose -c "$2" 2>&1) && state=ok \
    || state=$(echo "$out" | sed -n 's/^.*ERROR:  \([0-9A-Z]\{5\}\):.*$/\1/p' | head -n 1)
  expect "$1" "${state:-?}" "$3"
  [ "${state:-?}" = "$3" ] || echo "  $out"
}

# --- 1. cluster --------------------------------------------------------------------------------
"$db" init
"$db" start
"$db" status

# --- 2. migrate twice ----------------------------------------------------------------------------
out1=$("$db" migrate)
echo "$out1"
expect "first migrate applies every migration" \
  "$(echo "$out1" | tail -n 1)" \
  "db: migrations: $(ls "$root"/config/migrations/[0-9][0-9][0-9][0-9]_*.sql | wc -l) applied, 0 already present"
before=$(q "SELECT version, name, checksum, applied_at FROM schema_migrations ORDER BY version")
schema_before=$(q "SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace")
out2=$("$db" migrate)
echo "$out2"
expect "second migrate applies nothing" "$(echo "$out2" | grep -c '^db: applied' || true)" "0"
expect "schema_migrations unchanged by the second run" \
  "$(q "SELECT version, name, checksum, applied_at FROM schema_migrations ORDER BY version")" "$before"
expect "no relation added by the second run" \
  "$(q "SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace")" "$schema_before"
expect "versions recorded" "$(q "SELECT string_agg(version, ',' ORDER BY version) FROM schema_migrations")" \
  "$(ls "$root"/config/migrations/[0-9][0-9][0-9][0-9]_*.sql | xargs -n1 basename | cut -c1-4 | paste -sd,)"

# --- 3. tables, columns, constraints, indexes -------------------------------------------------------
expect "tables" "$(q "SELECT string_agg(table_name, ' ' ORDER BY table_name) FROM information_schema.tables
                      WHERE table_schema = 'public' AND table_type = 'BASE TABLE'")" \
  "order_status_history orders outbox products schema_migrations users"

# columns TABLE "name:type:nullable ..." (in table order)
columns() {
  expect "columns of $1" "$(q "SELECT string_agg(column_name || ':' || udt_name || ':' || is_nullable, ' '
                                               ORDER BY ordinal_position)
                               FROM information_schema.columns
                               WHERE table_schema = 'public' AND table_name = '$1'")" "$2"
}
columns users "id:int8:NO email:text:NO password_hash:text:NO name:text:NO roles:_text:NO created_at:timestamptz:NO"
columns products "id:int8:NO name:text:NO description:text:NO price:int8:NO stock:int4:NO created_at:timestamptz:NO updated_at:timestamptz:NO deleted_at:timestamptz:YES"
columns orders "id_order:int8:NO id_produk:int8:NO id_user:int8:NO harga:int8:NO jumlah:int4:NO total_harga:int8:NO status:text:NO idempotency_key:text:YES created_at:timestamptz:NO updated_at:timestamptz:NO"
columns order_status_history "id_order_status_history:int8:NO id_order:int8:NO status:text:NO changed_at:timestamptz:NO changed_by:int8:YES"
columns outbox "id:int8:NO event_id:uuid:NO aggregate:text:NO aggregate_id:int8:NO type:text:NO payload:jsonb:NO created_at:timestamptz:NO sent_at:timestamptz:YES"
columns schema_migrations "version:text:NO name:text:NO checksum:text:NO applied_at:timestamptz:NO"

expect "identity primary keys" \
  "$(q "SELECT string_agg(table_name || '.' || column_name, ' ' ORDER BY table_name)
        FROM information_schema.columns
        WHERE table_schema = 'public' AND is_identity = 'YES'")" \
  "order_status_history.id_order_status_history orders.id_order outbox.id products.id users.id"

# Constraints other than NOT NULL: table.name:type (p primary, f foreign, u unique, c check),
# foreign keys with their target.
expect "constraints" "$(q "SELECT string_agg(conrelid::regclass::text || '.' || conname || ':' || contype::text
                                            || CASE WHEN contype = 'f' THEN '->' || confrelid::regclass::text ELSE '' END,
                                            E'\n' ORDER BY conrelid::regclass::text, conname)
                          FROM pg_constraint WHERE connamespace = 'public'::regnamespace")" \
"order_status_history.order_status_history_changed_by_fkey:f->users
order_status_history.order_status_history_id_order_fkey:f->orders
order_status_history.order_status_history_pkey:p
order_status_history.order_status_history_status_check:c
orders.orders_harga_check:c
orders.orders_id_produk_fkey:f->products
orders.orders_id_user_fkey:f->users
orders.orders_idempotency_key_check:c
orders.orders_jumlah_check:c
orders.orders_pkey:p
orders.orders_status_check:c
orders.orders_total_harga_check:c
orders.orders_user_idempotency_key:u
outbox.outbox_event_id_key:u
outbox.outbox_pkey:p
products.products_name_check:c
products.products_pkey:p
products.products_price_check:c
products.products_stock_check:c
schema_migrations.schema_migrations_pkey:p
users.users_email_check:c
users.users_name_check:c
users.users_pkey:p"

expect "unique (id_user, idempotency_key) columns" \
  "$(q "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'orders_user_idempotency_key'")" \
  "UNIQUE (id_user, idempotency_key)"
expect "history foreign key" \
  "$(q "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'order_status_history_id_order_fkey'")" \
  "FOREIGN KEY (id_order) REFERENCES orders(id_order) ON DELETE CASCADE"

expect "indexes" "$(q "SELECT string_agg(indexdef, E'\n' ORDER BY tablename, indexname)
                      FROM pg_indexes WHERE schemaname = 'public'")" \
"CREATE INDEX order_status_history_order_idx ON public.order_status_history USING btree (id_order, changed_at, id_order_status_history)
CREATE UNIQUE INDEX order_status_history_pkey ON public.order_status_history USING btree (id_order_status_history)
CREATE UNIQUE INDEX orders_pkey ON public.orders USING btree (id_order)
CREATE INDEX orders_user_created_idx ON public.orders USING btree (id_user, created_at DESC, id_order DESC)
CREATE UNIQUE INDEX orders_user_idempotency_key ON public.orders USING btree (id_user, idempotency_key)
CREATE UNIQUE INDEX outbox_event_id_key ON public.outbox USING btree (event_id)
CREATE UNIQUE INDEX outbox_pkey ON public.outbox USING btree (id)
CREATE INDEX outbox_unsent_idx ON public.outbox USING btree (id) WHERE (sent_at IS NULL)
CREATE INDEX products_list_idx ON public.products USING btree (id) WHERE (deleted_at IS NULL)
CREATE INDEX products_name_trgm_idx ON public.products USING gin (name gin_trgm_ops) WITH (fastupdate=off) WHERE (deleted_at IS NULL)
CREATE UNIQUE INDEX products_pkey ON public.products USING btree (id)
CREATE UNIQUE INDEX schema_migrations_pkey ON public.schema_migrations USING btree (version)
CREATE UNIQUE INDEX users_email_lower_key ON public.users USING btree (lower(email))
CREATE UNIQUE INDEX users_pkey ON public.users USING btree (id)"

expect "extension pg_trgm" "$(q "SELECT count(*) FROM pg_extension WHERE extname = 'pg_trgm'")" "1"
expect "tables owned by role shop" \
  "$(q "SELECT string_agg(DISTINCT pg_get_userbyid(relowner), ',') FROM pg_class
        WHERE relnamespace = 'public'::regnamespace AND relkind IN ('r', 'i', 'S')")" "shop"

# --- 4. the services' queries can use their indexes --------------------------------------------------
# plan SQL INDEX: with sequential scans off (the tables are empty), the plan names INDEX.
plan() {
  local p
  p=$("$db" psql -q -tA -c "SET enable_seqscan = off" -c "EXPLAIN $2")
  if echo "$p" | grep -q "$3"; then pass "$1 uses $3"; else fail "$1 uses $3"; echo "$p"; fi
}
plan "login by email" "SELECT id FROM users WHERE lower(email) = lower('A@b.c')" users_email_lower_key
plan "product list" "SELECT * FROM products WHERE deleted_at IS NULL ORDER BY id LIMIT 20 OFFSET 0" products_list_idx
# The substring filter, among 5,000 products (rolled back), for a rare word.
p=$("$db" psql -q -tA -v ON_ERROR_STOP=1 <<'EOF'
BEGIN;
INSERT INTO products (name, price) SELECT 'Produk nomor ' || i, 1000 FROM generate_series(1, 5000) i;
INSERT INTO products (name, price) VALUES ('Kopi Toraja Sapan', 95000);
ANALYZE products;
EXPLAIN SELECT * FROM products WHERE deleted_at IS NULL AND name ILIKE '%toraja%' ORDER BY id LIMIT 20 OFFSET 0;
ROLLBACK;
EOF
)
if echo "$p" | grep -q products_name_trgm_idx; then pass "product filter uses products_name_trgm_idx"
else fail "product filter uses products_name_trgm_idx"; echo "$p"; fi
plan "my orders" "SELECT * FROM orders WHERE id_user = 1 ORDER BY created_at DESC, id_order DESC LIMIT 20" orders_user_created_idx
plan "an order's history" "SELECT * FROM order_status_history WHERE id_order = 1 ORDER BY changed_at, id_order_status_history" order_status_history_order_idx
plan "outbox relay" "SELECT * FROM outbox WHERE sent_at IS NULL ORDER BY id LIMIT 100 FOR UPDATE SKIP LOCKED" outbox_unsent_idx
plan "idempotent order" "SELECT * FROM orders WHERE id_user = 1 AND idempotency_key = 'k'" orders_user_idempotency_key

# --- 5. constraints at work ---------------------------------------------------------------------------
u1=$(q "INSERT INTO users (email, password_hash, name) VALUES ('Ana@Example.com', 'x', 'Ana') RETURNING id")
u2=$(q "INSERT INTO users (email, password_hash, name, roles) VALUES ('kurir@example.com', 'x', 'Kurir', '{courier}') RETURNING id")
sqlstate "email unique whatever its case" \
  "INSERT INTO users (email, password_hash) VALUES ('ana@EXAMPLE.com', 'x')" 23505
expect "email keeps its spelling" "$(q "SELECT email FROM users WHERE lower(email) = lower('ANA@example.COM')")" "Ana@Example.com"
p1=$(q "INSERT INTO products (name, price, stock) VALUES ('Kopi Toraja', 90000, 5) RETURNING id")
sqlstate "negative price refused" "INSERT INTO products (name, price) VALUES ('x', -1)" 23514
sqlstate "products.updated_at follows updates" \
  "DO \$\$ BEGIN UPDATE products SET updated_at = '2000-01-01' WHERE id = $p1;
     IF (SELECT updated_at FROM products WHERE id = $p1) < now() THEN RAISE 'stale'; END IF; END \$\$" ok

order() {  # order USER KEY -> the statement
  echo "INSERT INTO orders (id_produk, id_user, harga, jumlah, total_harga, idempotency_key)
        SELECT id, $1, price, 3, price * 3, $2 FROM products WHERE id = $p1 RETURNING id_order"
}
o1=$(q "$(order "$u1" "'key-1'")")
expect "order defaults" "$(q "SELECT status, total_harga, created_at <= now() FROM orders WHERE id_order = $o1")" "created|270000|t"
sqlstate "same user, same Idempotency-Key: refused" "$(order "$u1" "'key-1'")" 23505
expect "ON CONFLICT on the key returns nothing new" \
  "$(q "$(order "$u1" "'key-1'" | sed 's/RETURNING/ON CONFLICT (id_user, idempotency_key) DO NOTHING RETURNING/')")" ""
sqlstate "another user, same key: accepted" "$(order "$u2" "'key-1'")" ok
sqlstate "no key, twice: accepted" "$(order "$u1" NULL); $(order "$u1" NULL)" ok
sqlstate "empty key refused" "$(order "$u1" "''")" 23514
sqlstate "total_harga must be harga * jumlah" \
  "INSERT INTO orders (id_produk, id_user, harga, jumlah, total_harga) VALUES ($p1, $u1, 100, 2, 201)" 23514
sqlstate "jumlah must be positive" \
  "INSERT INTO orders (id_produk, id_user, harga, jumlah, total_harga) VALUES ($p1, $u1, 100, 0, 0)" 23514
sqlstate "unknown product refused" \
  "INSERT INTO orders (id_produk, id_user, harga, jumlah, total_harga) VALUES (999999, $u1, 1, 1, 1)" 23503
sqlstate "unknown user refused" \
  "INSERT INTO orders (id_produk, id_user, harga, jumlah, total_harga) VALUES ($p1, 999999, 1, 1, 1)" 23503
sqlstate "unknown order status refused" "UPDATE orders SET status = 'lost' WHERE id_order = $o1" 23514

sqlstate "history for an existing order" \
  "INSERT INTO order_status_history (id_order, status, changed_by) VALUES ($o1, 'created', $u1), ($o1, 'paid', $u2)" ok
sqlstate "history for an unknown order refused (FK)" \
  "INSERT INTO order_status_history (id_order, status) VALUES (999999, 'paid')" 23503
sqlstate "history by an unknown user refused (FK)" \
  "INSERT INTO order_status_history (id_order, status, changed_by) VALUES ($o1, 'paid', 999999)" 23503
sqlstate "history status checked" \
  "INSERT INTO order_status_history (id_order, status) VALUES ($o1, 'teleported')" 23514
expect "history in order" "$(q "SELECT string_agg(status, ',' ORDER BY changed_at, id_order_status_history)
                               FROM order_status_history WHERE id_order = $o1")" "created,paid"
sqlstate "id_order is generated, not given" \
  "INSERT INTO orders (id_order, id_produk, id_user, harga, jumlah, total_harga) VALUES (42, $p1, $u1, 1, 1, 1)" 428C9

sqlstate "outbox row with a generated event id" \
  "INSERT INTO outbox (aggregate, aggregate_id, type, payload) VALUES ('order', $o1, 'order.status', '{\"status\":\"paid\"}')" ok
expect "outbox: one unsent event with a uuid" \
  "$(q "SELECT count(*), bool_and(event_id IS NOT NULL) FROM outbox WHERE sent_at IS NULL")" "1|t"
sqlstate "outbox event id unique" \
  "INSERT INTO outbox (event_id, aggregate, aggregate_id, type, payload)
   SELECT event_id, 'order', $o1, 'order.status', '{}' FROM outbox LIMIT 1" 23505

# --- 6. a failing migration --------------------------------------------------------------------------
bad="$tmp/migrations-bad"
mkdir "$bad"
cp "$root"/config/migrations/[0-9][0-9][0-9][0-9]_*.sql "$bad/"
printf 'CREATE TABLE half_applied (x int);\nALTER TABLE orders ADD COLUMN half int;\nSELECT 1 / 0;\n' \
  > "$bad/9999_broken.sql"
set +e
out=$("$db" migrate "$bad" 2>&1)
rc=$?
set -e
expect "failing migration: migrate exits non-zero" "$([ "$rc" -ne 0 ] && echo yes || echo "no ($rc)")" "yes"
expect "failing migration: the message names the file" \
  "$(echo "$out" | grep -c "9999_broken.sql")" "2"
expect "failing migration: nothing of it applied" \
  "$(q "SELECT to_regclass('half_applied') IS NULL,
              NOT EXISTS (SELECT 1 FROM information_schema.columns WHERE table_name = 'orders' AND column_name = 'half'),
              NOT EXISTS (SELECT 1 FROM schema_migrations WHERE version = '9999')")" "t|t|t"
echo "-- edited" >> "$bad/0001_users_products.sql"
rm "$bad/9999_broken.sql"
set +e
out=$("$db" migrate "$bad" 2>&1)
rc=$?
set -e
expect "an applied migration that was edited is refused, by name" \
  "$rc:$(echo "$out" | grep -c '0001_users_products.sql was changed')" "1:1"

# --- 7. seed -----------------------------------------------------------------------------------------
"$db" seed >/dev/null
n1=$(q "SELECT count(*) FROM products")
"$db" seed >/dev/null
expect "seed is idempotent" "$(q "SELECT count(*) FROM products")" "$n1"
expect "seed adds a few products" "$([ "$n1" -ge 4 ] && echo yes || echo "no ($n1)")" "yes"

# --- stop by pid ----------------------------------------------------------------------------------------
pid=$(head -n 1 "$PGDATA_DIR/postmaster.pid")
"$db" stop
expect "server stopped" "$(kill -0 "$pid" 2>/dev/null && echo running || echo gone)" "gone"
set +e
"$db" status >/dev/null
rc=$?
set -e
expect "status says stopped" "$rc" "3"

if [ "$failures" -ne 0 ]; then
  echo "db.migrations: $failures failed"
  exit 1
fi
echo "db.migrations: all passed"
