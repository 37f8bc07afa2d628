-- Orders, owned by the order service (schema `orders`). Rows are written by the order worker only, from
-- orders.requested, in batches (see ../README.md). Ids are UUIDv7: time-ordered, so inserts append to the
-- primary key index instead of splitting random pages.
CREATE TABLE orders.orders (
  id                     uuid PRIMARY KEY,
  user_id                text NOT NULL CHECK (length(user_id) BETWEEN 1 AND 64),
  sale_id                text NOT NULL,
  sku                    text NOT NULL,
  qty                    int  NOT NULL CHECK (qty > 0),
  idempotency_key        text NOT NULL CHECK (length(idempotency_key) BETWEEN 1 AND 128),
  status                 text NOT NULL CHECK (status IN ('confirmed', 'rejected', 'paid', 'cancelled')),
  reason                 text,
  reservation_expires_at timestamptz NOT NULL,
  requested_at           timestamptz NOT NULL,
  created_at             timestamptz NOT NULL DEFAULT now(),
  updated_at             timestamptz NOT NULL DEFAULT now()
);

-- The client's Idempotency-Key, unique per user among orders that took stock: the database's own guard
-- against a second order for one request, behind the API's Redis check. Rejected orders are outside it,
-- so a duplicate that slips past Redis is recorded as rejected ("duplicate_request"), not lost.
CREATE UNIQUE INDEX orders_user_idempotency_key ON orders.orders (user_id, idempotency_key) WHERE status <> 'rejected';

-- A buyer's history, newest first (GET /users/me/orders).
CREATE INDEX orders_user_created_idx ON orders.orders (user_id, created_at DESC, id);
-- The payment-timeout sweeper looks only at unpaid orders.
CREATE INDEX orders_unpaid_expiry_idx ON orders.orders (reservation_expires_at) WHERE status = 'confirmed';
