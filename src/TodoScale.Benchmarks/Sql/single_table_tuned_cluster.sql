-- The equally tuned peer's upkeep: CLUSTER (b*) bench_todos_tuned by its (user_id, status, priority DESC,
-- created_at DESC, id DESC) index, the key order cluster_partitions() (006) gives every todos_active partition, so
-- one user's rows share a few heap pages in both layouts. Looked up by definition because LIKE ... INCLUDING
-- INDEXES names the copies itself.
DO $$
DECLARE
    v_index regclass;
BEGIN
    SELECT i.indexrelid::regclass INTO v_index
    FROM pg_index i
    WHERE i.indrelid = 'bench_todos_tuned'::regclass
      AND pg_get_indexdef(i.indexrelid) LIKE '%(user_id, status, priority DESC, created_at DESC, id DESC)';
    IF v_index IS NULL THEN
        RAISE EXCEPTION 'bench_todos_tuned lacks its (user_id, status, priority DESC, created_at DESC, id DESC) index: run single_table_baseline.sql';
    END IF;
    EXECUTE format('CLUSTER bench_todos_tuned USING %I', (SELECT relname FROM pg_class WHERE oid = v_index));
END;
$$;
