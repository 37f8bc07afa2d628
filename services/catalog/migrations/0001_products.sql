-- Products of the catalog. Prices are integer cents (no float money). Ids are chosen by the writer (the
-- seed makes them deterministic; the admin API makes `prod-<uuid>` when none is given) so the same seed
-- gives the same catalog on every machine.

CREATE TABLE catalog.products (
  id          text PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$'),
  sku         text NOT NULL UNIQUE CHECK (sku ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$'),
  name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  category    text NOT NULL CHECK (category ~ '^[a-z0-9][a-z0-9-]{0,39}$'),
  price_cents int  NOT NULL CHECK (price_cents >= 0),
  image_url   text NOT NULL DEFAULT '',
  description text NOT NULL DEFAULT '',
  -- Millisecond precision, like the JSON (and JavaScript Date) they travel as: a keyset cursor on
  -- created_at must carry the exact value, or a page boundary inside one microsecond-distinct run loops.
  created_at  timestamptz NOT NULL DEFAULT date_trunc('milliseconds', now()),
  updated_at  timestamptz NOT NULL DEFAULT date_trunc('milliseconds', now())
);

-- Keyset pagination: every whitelisted sort is (field, id), optionally within a category.
CREATE INDEX products_category_name_idx    ON catalog.products (category, name, id);
CREATE INDEX products_category_price_idx   ON catalog.products (category, price_cents, id);
CREATE INDEX products_category_created_idx ON catalog.products (category, created_at, id);
CREATE INDEX products_name_idx             ON catalog.products (name, id);
CREATE INDEX products_price_idx            ON catalog.products (price_cents, id);
CREATE INDEX products_created_idx          ON catalog.products (created_at, id);
