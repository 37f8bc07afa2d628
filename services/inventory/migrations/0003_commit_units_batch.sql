-- The batched form of the per-user commit_units, for the order worker's batches: one call per sale per
-- batch instead of one per order. Same rules, same answers, in array order (first come, first served):
-- for each (user, units) the units left after taking them, -1 when the total would be exceeded, -2 when
-- the buyer's units would exceed per_user_limit; a refused item changes nothing. The stock row is
-- locked once (FOR UPDATE, before the buyers' rows, the same order as commit_units), the counting is done
-- in memory, and the ledger is written with one UPDATE and one upsert: a single new version of the hot
-- stock row per batch instead of one per order.
CREATE FUNCTION inventory.commit_units_batch(p_sale_id text, p_user_ids text[], p_units int[]) RETURNS int[]
LANGUAGE plpgsql AS $$
DECLARE
  v_n int := coalesce(array_length(p_units, 1), 0);
  v_total int;
  v_sold int;
  v_limit int;
  v_held jsonb;
  v_have int;
  v_result int[] := '{}';
  i int;
BEGIN
  IF coalesce(array_length(p_user_ids, 1), 0) <> v_n THEN
    RAISE EXCEPTION 'commit_units_batch: % users for % quantities', coalesce(array_length(p_user_ids, 1), 0), v_n USING ERRCODE = '22023';
  END IF;
  IF EXISTS (SELECT 1 FROM unnest(p_units) u WHERE u IS NULL OR u <= 0) THEN
    RAISE EXCEPTION 'commit_units_batch: units must be positive' USING ERRCODE = '22023';
  END IF;
  SELECT total, sold INTO v_total, v_sold FROM inventory.stock WHERE sale_id = p_sale_id FOR UPDATE;
  IF NOT FOUND THEN
    RETURN array_fill(-1, ARRAY[v_n]);
  END IF;
  SELECT per_user_limit INTO v_limit FROM inventory.sales WHERE id = p_sale_id;
  PERFORM 1 FROM inventory.user_units WHERE sale_id = p_sale_id AND user_id = ANY (p_user_ids) FOR UPDATE;
  SELECT coalesce(jsonb_object_agg(user_id, units), '{}') INTO v_held
    FROM inventory.user_units WHERE sale_id = p_sale_id AND user_id = ANY (p_user_ids);

  FOR i IN 1 .. v_n LOOP
    v_have := coalesce((v_held ->> p_user_ids[i])::int, 0);
    IF v_sold + p_units[i] > v_total THEN
      v_result := v_result || -1;
    ELSIF v_have + p_units[i] > v_limit THEN
      v_result := v_result || -2;
    ELSE
      v_sold := v_sold + p_units[i];
      v_held := jsonb_set(v_held, ARRAY[p_user_ids[i]], to_jsonb(v_have + p_units[i]));
      v_result := v_result || (v_total - v_sold);
    END IF;
  END LOOP;

  UPDATE inventory.stock SET sold = v_sold WHERE sale_id = p_sale_id;
  INSERT INTO inventory.user_units (sale_id, user_id, units)
  SELECT p_sale_id, key, value::int FROM jsonb_each_text(v_held)
  ON CONFLICT (sale_id, user_id) DO UPDATE SET units = excluded.units
    WHERE inventory.user_units.units IS DISTINCT FROM excluded.units;
  RETURN v_result;
END $$;
