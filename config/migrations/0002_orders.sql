-- Orders, their status history, and the outbox the relay publishes to Redis.
--
-- Partitioning `orders` at 10 million a day (~116 a second on average, 3.65 billion rows a
-- year): the table stays unpartitioned here, which is right up to some hundred million rows.
-- Beyond that, partition it by month on created_at (PARTITION BY RANGE (created_at), ~300
-- million rows and ~60-100 GB per partition with indexes, created a few months ahead by a job
-- or pg_partman), because then:
--   * old months are detached and archived or dropped in one statement, no DELETE, no bloat;
--   * autovacuum and index builds work on one month at a time, and the current month's
--     indexes stay hot in memory while old months are read rarely;
--   * the primary key must include the partition key: PRIMARY KEY (id_order, created_at),
--     and UNIQUE (id_user, idempotency_key) becomes UNIQUE (id_user, idempotency_key,
--     created_at) - an idempotency key is then unique within a month, which is what a retry
--     window needs (or keep keys in a small table of their own with a TTL);
--   * a look-up by id_order alone visits every partition unless it also gives created_at:
--     make the id carry its month (e.g. a time-ordered id) or look up (id_order, created_at);
--   * order_status_history is partitioned the same way (it gets ~4 rows per order) with
--     changed_at, and its foreign key to orders references (id_order, created_at);
--   * "my orders" (id_user, created_at DESC) reads the newest partitions first and stops at
--     the page limit.
-- Weekly partitions if a month grows past what one index rebuild or one VACUUM should take.
-- Writes at this rate also want batched or asynchronous commits (synchronous_commit = off
-- for the service's role), and the outbox's sent rows deleted (or outbox partitioned by day
-- and old days dropped).

CREATE TABLE orders (
  id_order        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  id_produk       bigint      NOT NULL REFERENCES products (id),
  id_user         bigint      NOT NULL REFERENCES users (id),
  -- the product's price when the order was placed, in rupiah (see 0001)
  harga           bigint      NOT NULL CHECK (harga >= 0),
  jumlah          integer     NOT NULL CHECK (jumlah > 0),
  total_harga     bigint      NOT NULL,
  status          text        NOT NULL DEFAULT 'created',
  -- the client's Idempotency-Key header; NULL when it sent none
  idempotency_key text        CHECK (length(idempotency_key) BETWEEN 1 AND 255),
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT orders_total_harga_check CHECK (total_harga = harga * jumlah),
  CONSTRAINT orders_status_check
    CHECK (status IN ('created', 'paid', 'shipped', 'delivered', 'cancelled')),
  -- the same key from the same user is the same order: INSERT ... ON CONFLICT
  -- (id_user, idempotency_key) DO NOTHING, then SELECT the existing one.
  -- NULL keys never conflict.
  CONSTRAINT orders_user_idempotency_key UNIQUE (id_user, idempotency_key)
);
-- GET /api/orders: WHERE id_user = $1 ORDER BY created_at DESC, id_order DESC LIMIT $2
-- (keyset pages: AND (created_at, id_order) < ($3, $4)).
CREATE INDEX orders_user_created_idx ON orders (id_user, created_at DESC, id_order DESC);
-- No index on id_produk: no service query reads orders by product, products are only
-- soft-deleted (so the foreign key is never checked from that side), and each index on
-- this table costs every insert.

CREATE TRIGGER orders_set_updated_at BEFORE UPDATE ON orders
  FOR EACH ROW EXECUTE FUNCTION set_updated_at();

CREATE TABLE order_status_history (
  id_order_status_history bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  id_order   bigint      NOT NULL REFERENCES orders (id_order) ON DELETE CASCADE,
  status     text        NOT NULL,
  changed_at timestamptz NOT NULL DEFAULT now(),
  -- the user (courier, admin, or the buyer for 'created') who made the change; NULL for
  -- the system
  changed_by bigint      REFERENCES users (id),
  CONSTRAINT order_status_history_status_check
    CHECK (status IN ('created', 'paid', 'shipped', 'delivered', 'cancelled'))
);
-- GET /api/orders/{id}: its history in order.
CREATE INDEX order_status_history_order_idx
  ON order_status_history (id_order, changed_at, id_order_status_history);

-- Transactional outbox: a status change inserts its event here in the same transaction as
-- the orders and order_status_history rows; the relay reads unsent rows
--   SELECT ... WHERE sent_at IS NULL ORDER BY id LIMIT 100 FOR UPDATE SKIP LOCKED
-- XADDs them to the Redis stream and sets sent_at (at-least-once; consumers dedupe on
-- event_id).
CREATE TABLE outbox (
  id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  event_id     uuid        NOT NULL DEFAULT gen_random_uuid(),
  aggregate    text        NOT NULL,          -- 'order'
  aggregate_id bigint      NOT NULL,          -- id_order
  type         text        NOT NULL,          -- 'order.status'
  payload      jsonb       NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  sent_at      timestamptz,
  CONSTRAINT outbox_event_id_key UNIQUE (event_id)
);
-- Only the unsent rows, so the relay's scan stays small however many were sent.
CREATE INDEX outbox_unsent_idx ON outbox (id) WHERE sent_at IS NULL;
