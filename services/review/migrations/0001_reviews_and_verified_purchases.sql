-- Reviews, and the verified-buyer read model projected from orders.events (CQRS: this service's own copy
-- of the facts it needs, eventually consistent with the order service; see ../README.md).

CREATE TABLE review.reviews (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  product_id  text NOT NULL CHECK (product_id ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$'),
  -- The SKU the product had when reviewed: the key of the purchase that made the author a verified buyer.
  sku         text NOT NULL,
  user_id     text NOT NULL,
  rating      smallint NOT NULL CHECK (rating BETWEEN 1 AND 5),
  title       text NOT NULL DEFAULT '' CHECK (length(title) <= 120),
  body        text NOT NULL CHECK (length(body) BETWEEN 10 AND 2000),
  created_at  timestamptz NOT NULL DEFAULT now(),
  -- One review per user per product: a second POST is a 409, decided by the database, not a read-then-write.
  CONSTRAINT reviews_one_per_user UNIQUE (product_id, user_id)
);

-- Newest first per product (GET /products/:id/reviews) and the rating aggregate.
CREATE INDEX reviews_product_id_idx ON review.reviews (product_id, id DESC) INCLUDE (rating);

CREATE TABLE review.verified_purchases (
  -- Idempotent on redelivery: one row per order, whatever how often its events arrive.
  order_id    text PRIMARY KEY,
  user_id     text NOT NULL,
  sku         text NOT NULL,
  qty         int  NOT NULL CHECK (qty > 0),
  -- The order's latest status seen: confirmed / paid count as a purchase; cancelled / rejected are final
  -- and do not (see the projector's transition rule).
  status      text NOT NULL CHECK (status IN ('confirmed', 'paid', 'cancelled', 'rejected')),
  occurred_at timestamptz NOT NULL,
  updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX verified_purchases_buyer_idx ON review.verified_purchases (user_id, sku) WHERE status IN ('confirmed', 'paid');
