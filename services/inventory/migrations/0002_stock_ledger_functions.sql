-- The only ways the order worker changes the stock ledger. It calls them inside its own transaction, so the
-- order insert and the stock change commit (or roll back) together, while the ledger's rules stay here.
-- Why: services/inventory/README.md, "The stock ledger", and its ADR.

-- Units per buyer per sale, for the optional per-user form of the functions: it lets Postgres enforce the
-- per-user limit too, and lets a Redis rebuild restore each buyer's count after a Redis loss.
CREATE TABLE inventory.user_units (
  sale_id text NOT NULL REFERENCES inventory.sales (id) ON DELETE CASCADE,
  user_id text NOT NULL,
  units   int  NOT NULL CHECK (units >= 0),
  PRIMARY KEY (sale_id, user_id)
);

-- Takes p_units of the sale's stock: returns the units left (total - sold) after taking them, or -1 when
-- taking them would exceed the total (nothing changes) or the sale does not exist. One conditional UPDATE:
-- the row lock serialises concurrent callers, and the check is in the same statement as the change.
CREATE FUNCTION inventory.commit_units(p_sale_id text, p_units int) RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
  v_remaining int;
BEGIN
  IF p_units IS NULL OR p_units <= 0 THEN
    RAISE EXCEPTION 'commit_units: units must be positive, got %', p_units USING ERRCODE = '22023';
  END IF;
  UPDATE inventory.stock SET sold = sold + p_units
   WHERE sale_id = p_sale_id AND sold + p_units <= total
  RETURNING total - sold INTO v_remaining;
  RETURN coalesce(v_remaining, -1);
END $$;

-- Gives p_units back (a cancelled or rejected order): returns the units left (total - sold) afterwards, or
-- -1 when the sale does not exist. Never goes below zero: returning more than was sold stops at 0.
CREATE FUNCTION inventory.return_units(p_sale_id text, p_units int) RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
  v_remaining int;
BEGIN
  IF p_units IS NULL OR p_units <= 0 THEN
    RAISE EXCEPTION 'return_units: units must be positive, got %', p_units USING ERRCODE = '22023';
  END IF;
  UPDATE inventory.stock SET sold = greatest(sold - p_units, 0)
   WHERE sale_id = p_sale_id
  RETURNING total - sold INTO v_remaining;
  RETURN coalesce(v_remaining, -1);
END $$;

-- The per-user form: as commit_units(sale, units), and also holds the buyer to the sale's per-user limit.
-- Returns the units left, -1 when stock would be exceeded (or no such sale), -2 when the buyer's units would
-- exceed per_user_limit; on -1/-2 nothing changes. Locks the stock row first, then the buyer's row, always
-- in that order, so two batches of the same sale cannot deadlock on each other.
CREATE FUNCTION inventory.commit_units(p_sale_id text, p_units int, p_user_id text) RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
  v_remaining int;
  v_limit int;
  v_have int;
BEGIN
  v_remaining := inventory.commit_units(p_sale_id, p_units);
  IF v_remaining < 0 THEN
    RETURN v_remaining;
  END IF;
  SELECT per_user_limit INTO v_limit FROM inventory.sales WHERE id = p_sale_id;
  SELECT units INTO v_have FROM inventory.user_units WHERE sale_id = p_sale_id AND user_id = p_user_id FOR UPDATE;
  IF coalesce(v_have, 0) + p_units > v_limit THEN
    UPDATE inventory.stock SET sold = sold - p_units WHERE sale_id = p_sale_id;
    RETURN -2;
  END IF;
  -- The stock row lock taken above serialises every caller of this sale, so the insert cannot race.
  INSERT INTO inventory.user_units (sale_id, user_id, units) VALUES (p_sale_id, p_user_id, p_units)
  ON CONFLICT (sale_id, user_id) DO UPDATE SET units = inventory.user_units.units + excluded.units;
  RETURN v_remaining;
END $$;

-- The per-user form of return_units: gives the units back to the stock and takes them off the buyer's count,
-- neither below zero.
CREATE FUNCTION inventory.return_units(p_sale_id text, p_units int, p_user_id text) RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
  v_remaining int;
BEGIN
  v_remaining := inventory.return_units(p_sale_id, p_units);
  IF v_remaining >= 0 THEN
    UPDATE inventory.user_units SET units = greatest(units - p_units, 0)
     WHERE sale_id = p_sale_id AND user_id = p_user_id;
  END IF;
  RETURN v_remaining;
END $$;
