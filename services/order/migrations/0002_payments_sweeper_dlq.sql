-- Payment, the payment-timeout sweeper, and the DLQ tooling's record of handled dead letters.

-- One simulated payment per order; written in the same transaction that moves the order to `paid`, so an
-- order is paid exactly when it has a payment row.
CREATE TABLE orders.payments (
  order_id  uuid PRIMARY KEY REFERENCES orders.orders (id),
  user_id   text NOT NULL,
  provider  text NOT NULL DEFAULT 'simulated',
  reference text NOT NULL,
  paid_at   timestamptz NOT NULL DEFAULT now()
);

-- A status change (paid, cancelled) commits first; what follows it outside the database (the stock gate's
-- confirm/release, the status cache, orders.events) is done right after, and marked done here. A process
-- that dies in between leaves the timestamp set: the sweeper's follow-up pass finishes the work (each
-- step is idempotent). A transactional outbox in one column.
ALTER TABLE orders.orders ADD COLUMN effects_pending_since timestamptz;
CREATE INDEX orders_effects_pending_idx ON orders.orders (effects_pending_since) WHERE effects_pending_since IS NOT NULL;

-- Dead letters an operator has handled (docs/adr/0018): `list` hides them; the DLQ topic itself is never
-- rewritten (retention forever), so this table is the only state of the tooling.
CREATE TABLE orders.dlq_handled (
  topic      text   NOT NULL,
  partition  int    NOT NULL CHECK (partition >= 0),
  "offset"   bigint NOT NULL CHECK ("offset" >= 0),
  action     text   NOT NULL CHECK (action IN ('replayed', 'discarded')),
  actor      text   NOT NULL,
  times      int    NOT NULL DEFAULT 1,
  handled_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (topic, partition, "offset")
);
