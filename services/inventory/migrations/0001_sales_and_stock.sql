-- Sales and the stock ledger. Postgres is the truth about stock; Redis holds the fast gate in front of it
-- (see ../README.md). `sold` counts the units of persisted, non-cancelled orders (pending payment + paid);
-- the order worker moves it only through inventory.commit_units / inventory.return_units (0002).

CREATE TABLE inventory.sales (
  -- Ends up inside a Redis hash tag ({sale:<id>}), so no braces: letters, digits, _ . - only.
  id                      text PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$'),
  sku                     text NOT NULL CHECK (length(sku) BETWEEN 1 AND 64),
  title                   text NOT NULL DEFAULT '',
  total_units             int  NOT NULL CHECK (total_units > 0),
  per_user_limit          int  NOT NULL CHECK (per_user_limit > 0),
  starts_at               timestamptz NOT NULL,
  ends_at                 timestamptz NOT NULL,
  reservation_ttl_seconds int  NOT NULL DEFAULT 600 CHECK (reservation_ttl_seconds > 0),
  state                   text NOT NULL DEFAULT 'scheduled' CHECK (state IN ('scheduled', 'active', 'paused', 'closed')),
  created_at              timestamptz NOT NULL DEFAULT now(),
  updated_at              timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT sales_window_check CHECK (ends_at > starts_at)
);

-- sku → its sales, newest window first (GET /sales?sku=).
CREATE INDEX sales_sku_starts_at_idx ON inventory.sales (sku, starts_at DESC);
-- The reconciler walks the sales that are not closed.
CREATE INDEX sales_open_idx ON inventory.sales (state) WHERE state <> 'closed';

CREATE TABLE inventory.stock (
  sale_id text PRIMARY KEY REFERENCES inventory.sales (id) ON DELETE CASCADE,
  total   int  NOT NULL CHECK (total > 0),
  sold    int  NOT NULL DEFAULT 0,
  -- The no-oversell invariant, enforced by the database whatever any caller does.
  CONSTRAINT stock_sold_check CHECK (sold >= 0 AND sold <= total)
);
