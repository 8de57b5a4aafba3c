-- The upkeep `todoscale bench upkeep` times, one row per statement, in the order it runs them, on the database a
-- `todoscale bench run --grow-to N` left (history attached). Both layouts get the same three kinds of upkeep over the
-- same rows:
--   cluster  re-clustering by user, the upkeep that rewrites rows (ACCESS EXCLUSIVE: readers and writers wait);
--   reindex  a rebuild of every index (SHARE on the table: writers wait; ACCESS EXCLUSIVE on each index until the
--            end: readers wait too, since planning a query locks every index of its table);
--   vacuum   the aggressive VACUUM every table needs before transaction-id wraparound, as its worst case: FREEZE with
--            DISABLE_PAGE_SKIPPING reads every page whatever the visibility map says, so a run after an earlier one (or
--            after a CLUSTER, which freezes what it rewrites) times the same work (SHARE UPDATE EXCLUSIVE: nobody waits).
-- The single table (bench_todos_grown) takes each as one statement on the whole table. TodoScale takes each as one
-- statement per partition: for cluster, the very CLUSTER ... USING that cluster_partitions() (006) runs on each of its
-- candidate partitions, here on every candidate it may rewrite (the procedure skips partitions still in user order;
-- a table over cluster_max_mb it never rewrites), so the longest is the longest lock the weekly job can take.
WITH peer_index AS (
    SELECT c.relname
    FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
    WHERE i.indrelid = 'bench_todos_grown'::regclass
      AND pg_get_indexdef(i.indexrelid) LIKE '%(user_id, status, priority DESC, created_at DESC, id DESC)'
), leaves AS (
    SELECT i.inhrelid::regclass AS part
    FROM pg_inherits i
    WHERE i.inhparent IN ('todos_active'::regclass, 'todos_archived'::regclass, to_regclass('todos_archived_recent'))
), plan AS (
    SELECT 1 AS step, 'cluster' AS operation, 'single' AS layout, 'bench_todos_grown' AS target,
           format('CLUSTER bench_todos_grown USING %I', relname) AS statement
    FROM peer_index
    UNION ALL
    -- USING takes a bare index name (a regclass may print schema-qualified); the index lives in its table's schema.
    SELECT 1, 'cluster', 'todoscale', c.partition_name::text, format('CLUSTER %s USING %I', c.partition_name, i.relname)
    FROM todoscale_cluster_candidates() c
    JOIN pg_class i ON i.oid = c.index_name
    WHERE c.index_name IS NOT NULL
      -- The procedure never rewrites a table over cluster_max_mb (its lock would pass the bound).
      AND pg_total_relation_size(c.partition_name) <= todoscale_maintenance_setting('cluster_max_mb')::numeric * 1048576
    UNION ALL
    SELECT 2, 'reindex', 'single', 'bench_todos_grown', 'REINDEX TABLE bench_todos_grown'
    UNION ALL
    SELECT 2, 'reindex', 'todoscale', l.part::text, format('REINDEX TABLE %s', l.part)
    FROM leaves l
    UNION ALL
    SELECT 3, 'vacuum', 'single', 'bench_todos_grown', 'VACUUM (FREEZE, DISABLE_PAGE_SKIPPING) bench_todos_grown'
    UNION ALL
    SELECT 3, 'vacuum', 'todoscale', l.part::text, format('VACUUM (FREEZE, DISABLE_PAGE_SKIPPING) %s', l.part)
    FROM leaves l
)
SELECT operation, layout, target, statement
FROM plan
ORDER BY step, layout, target;
