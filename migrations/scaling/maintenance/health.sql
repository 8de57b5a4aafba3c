-- TodoScale phase 3, statistics and health: the guide's monitoring queries (get_partition_statistics,
-- get_index_usage_stats) and check_partition_health(), one row per check, which the weekly job records
-- and `todoscale maintain health` prints. They only read catalogs and statistics.
--
-- Included by 003_create_maintenance_jobs.sql (psql \ir), after bookkeeping.sql. Run 003, not this file.

-- Citus: what the shards of every Citus table hold, summed per table, read on every node (the coordinator's
-- own relations of a distributed table are empty shells, so pg_stat_user_tables and pg_relation_size there
-- say 0 rows, 0 bytes). One query per node: each reports its shard tables (named TABLE_SHARDID) and
-- pg_dist_shard maps them back. Partitions of a distributed table are distributed tables of their own.
CREATE OR REPLACE FUNCTION todoscale_citus_table_stats()
RETURNS TABLE(table_oid oid, live_rows bigint, dead_rows bigint, total_bytes bigint,
              last_vacuum timestamptz, last_analyze timestamptz)
LANGUAGE plpgsql AS $$
BEGIN
    RETURN QUERY EXECUTE $q$
        WITH node AS (
            SELECT r.result::json AS rows
            FROM run_command_on_all_nodes($cmd$
                SELECT coalesce(json_agg(json_build_array(relname, n_live_tup, n_dead_tup, pg_total_relation_size(relid),
                                                          greatest(last_vacuum, last_autovacuum), greatest(last_analyze, last_autoanalyze))), '[]')
                FROM pg_stat_user_tables WHERE relname ~ '_[0-9]+$'
            $cmd$) r
            WHERE r.success
        ), shard AS (
            SELECT e ->> 0 AS relname, (e ->> 1)::bigint AS live, (e ->> 2)::bigint AS dead, (e ->> 3)::bigint AS bytes,
                   (e ->> 4)::timestamptz AS vacuumed, (e ->> 5)::timestamptz AS analyzed
            FROM node, json_array_elements(node.rows) e
        )
        SELECT s.logicalrelid::oid, sum(shard.live)::bigint, sum(shard.dead)::bigint, sum(shard.bytes)::bigint,
               max(shard.vacuumed), max(shard.analyzed)
        FROM pg_dist_shard s
        JOIN pg_class c ON c.oid = s.logicalrelid
        JOIN shard ON shard.relname = c.relname || '_' || s.shardid
        GROUP BY s.logicalrelid
    $q$;
END;
$$;

-- One row per partition of every partitioned table (the guide: ORDER BY size_mb DESC). On Citus, the
-- partitions' shards on the workers (todoscale_citus_table_stats).
CREATE OR REPLACE FUNCTION get_partition_statistics()
RETURNS TABLE(partition_name text, parent_table text, row_estimate bigint, dead_rows bigint, size_mb numeric,
              last_vacuum timestamptz, last_analyze timestamptz)
LANGUAGE plpgsql AS $$
BEGIN
    IF todoscale_is_distributed() THEN
        RETURN QUERY
        SELECT c.relname::text, p.relname::text, coalesce(s.live_rows, 0)::bigint, coalesce(s.dead_rows, 0)::bigint,
               round(coalesce(s.total_bytes, 0) / 1048576.0, 2), s.last_vacuum, s.last_analyze
        FROM pg_inherits i
        JOIN pg_class c ON c.oid = i.inhrelid
        JOIN pg_class p ON p.oid = i.inhparent AND p.relkind = 'p'
        JOIN pg_namespace n ON n.oid = p.relnamespace
        LEFT JOIN todoscale_citus_table_stats() s ON s.table_oid = c.oid
        WHERE c.relkind IN ('r', 'p')
          AND n.nspname NOT IN ('pg_catalog', 'information_schema')
        ORDER BY p.relname, c.relname;
        RETURN;
    END IF;
    RETURN QUERY
    SELECT c.relname::text,
           p.relname::text,
           -- n_live_tup follows every committed write; reltuples only the last VACUUM/ANALYZE.
           coalesce(s.n_live_tup, greatest(c.reltuples, 0))::bigint,
           coalesce(s.n_dead_tup, 0)::bigint,
           round(pg_total_relation_size(c.oid) / 1048576.0, 2),
           greatest(s.last_vacuum, s.last_autovacuum),
           greatest(s.last_analyze, s.last_autoanalyze)
    FROM pg_inherits i
    JOIN pg_class c ON c.oid = i.inhrelid
    JOIN pg_class p ON p.oid = i.inhparent AND p.relkind = 'p'
    JOIN pg_namespace n ON n.oid = p.relnamespace
    LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
    WHERE c.relkind IN ('r', 'p')
      AND n.nspname NOT IN ('pg_catalog', 'information_schema')
    ORDER BY p.relname, c.relname;
END;
$$;

-- One row per index of the application's tables (the guide: WHERE index_scans < 10 finds unused ones). On
-- Citus, an index of a Citus table sums its shard indexes on every node (named INDEX_SHARDID there); the
-- coordinator's plain tables (maintenance, migration bookkeeping) are read locally.
CREATE OR REPLACE FUNCTION get_index_usage_stats()
RETURNS TABLE(index_name text, table_name text, index_scans bigint, size_mb numeric, tuples_read bigint)
LANGUAGE plpgsql AS $$
BEGIN
    IF todoscale_is_distributed() THEN
        RETURN QUERY EXECUTE $q$
            WITH node AS (
                SELECT r.result::json AS rows
                FROM run_command_on_all_nodes($cmd$
                    SELECT coalesce(json_agg(json_build_array(relname, indexrelname, idx_scan, pg_relation_size(indexrelid), idx_tup_read)), '[]')
                    FROM pg_stat_user_indexes WHERE relname ~ '_[0-9]+$'
                $cmd$) r
                WHERE r.success
            ), shard AS (
                SELECT e ->> 0 AS relname, e ->> 1 AS indexname, (e ->> 2)::bigint AS scans, (e ->> 3)::bigint AS bytes, (e ->> 4)::bigint AS tuples
                FROM node, json_array_elements(node.rows) e
            ), citus AS (
                SELECT regexp_replace(shard.indexname, '_' || s.shardid || '$', '') AS index_name, c.relname::text AS table_name,
                       sum(shard.scans)::bigint AS scans, round(sum(shard.bytes) / 1048576.0, 2) AS size_mb, sum(shard.tuples)::bigint AS tuples
                FROM pg_dist_shard s
                JOIN pg_class c ON c.oid = s.logicalrelid
                JOIN shard ON shard.relname = c.relname || '_' || s.shardid
                GROUP BY 1, 2
            )
            SELECT index_name, table_name, scans, size_mb, tuples FROM citus
            UNION ALL
            SELECT s.indexrelname::text, s.relname::text, s.idx_scan, round(pg_relation_size(s.indexrelid) / 1048576.0, 2), s.idx_tup_read
            FROM pg_stat_user_indexes s
            WHERE NOT EXISTS (SELECT 1 FROM pg_dist_partition d WHERE d.logicalrelid = s.relid)
              AND NOT EXISTS (SELECT 1 FROM pg_dist_shard d WHERE s.relname = (SELECT relname FROM pg_class WHERE oid = d.logicalrelid) || '_' || d.shardid)
            ORDER BY 2, 1
        $q$;
        RETURN;
    END IF;
    RETURN QUERY
    SELECT s.indexrelname::text,
           s.relname::text,
           s.idx_scan,
           round(pg_relation_size(s.indexrelid) / 1048576.0, 2),
           s.idx_tup_read
    FROM pg_stat_user_indexes s
    ORDER BY s.relname, s.indexrelname;
END;
$$;

-- One row per check, status OK / WARNING / CRITICAL. Cheap enough to run every few minutes: it reads
-- catalogs and statistics, the bounded DEFAULT partitions and one partial index.
-- Not STABLE: on Citus it keeps the shards' statistics (one query per node) in a temporary table for the
-- checks that read them.
CREATE OR REPLACE FUNCTION check_partition_health()
RETURNS TABLE(check_name text, status text, detail text)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    v_parent     regclass;
    v_default    regclass;
    v_rows       bigint;
    v_notes      text[];
    v_worst      int;
    v_ahead      int := todoscale_maintenance_setting('partition_months_ahead')::int;
    v_current    date := date_trunc('month', now() AT TIME ZONE 'UTC')::date;
    v_future     int;
    v_has_cur    boolean;
    v_has_next   boolean;
    v_days       int := todoscale_maintenance_setting('archive_after_days')::int;
    v_skew_limit numeric := todoscale_maintenance_setting('hash_skew_warning')::numeric;
    v_dead_limit numeric := todoscale_maintenance_setting('dead_tuple_ratio_warning')::numeric;
    v_max_age    interval := make_interval(hours => todoscale_maintenance_setting('daily_run_max_age_hours')::int);
    v_rec        record;
    v_last       timestamptz;
    v_citus      boolean;
BEGIN
    -- 1. Rows in a DEFAULT partition: their month has no partition yet. They are safe, but every query
    --    on that month scans the default, and the month's partition cannot be created without moving them.
    v_notes := '{}';
    FOREACH v_parent IN ARRAY ARRAY['todos_archived'::regclass, 'ai_todo_interactions'::regclass] LOOP
        SELECT pt.partdefid::regclass INTO v_default FROM pg_partitioned_table pt WHERE pt.partrelid = v_parent AND pt.partdefid <> 0;
        CONTINUE WHEN v_default IS NULL;
        EXECUTE format('SELECT count(*) FROM (SELECT 1 FROM %s LIMIT 1000001) s', v_default) INTO v_rows;
        IF v_rows > 0 THEN
            v_notes := v_notes || format('%s holds %s%s rows', v_default, v_rows, CASE WHEN v_rows > 1000000 THEN '+' ELSE '' END);
        END IF;
    END LOOP;
    check_name := 'default_partition_empty';
    status := CASE WHEN cardinality(v_notes) = 0 THEN 'OK' ELSE 'WARNING' END;
    detail := CASE WHEN cardinality(v_notes) = 0 THEN 'no rows in the DEFAULT partitions'
                   ELSE array_to_string(v_notes, '; ') || ': run_daily_maintenance() creates their months and moves them' END;
    RETURN NEXT;

    -- 2. Partitions ahead: without next month's partition, new rows land in DEFAULT on the 1st.
    v_notes := '{}'; v_worst := 0;
    FOREACH v_parent IN ARRAY ARRAY['todos_archived'::regclass, 'ai_todo_interactions'::regclass] LOOP
        SELECT count(*) FILTER (WHERE m > v_current), bool_or(m = v_current), bool_or(m = (v_current + interval '1 month')::date)
        INTO v_future, v_has_cur, v_has_next
        FROM (SELECT to_date(substring(c.relname from '(\d{4}_\d{2})$'), 'YYYY_MM') AS m
              FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
              WHERE i.inhparent = v_parent AND c.relname ~ '_\d{4}_\d{2}$') parts;
        IF NOT coalesce(v_has_cur, false) OR NOT coalesce(v_has_next, false) THEN
            v_worst := 2;
            v_notes := v_notes || format('%s lacks the partition for %s', v_parent,
                CASE WHEN NOT coalesce(v_has_cur, false) THEN to_char(v_current, 'YYYY-MM') ELSE to_char(v_current + interval '1 month', 'YYYY-MM') END);
        ELSIF v_future < v_ahead THEN
            v_worst := greatest(v_worst, 1);
            v_notes := v_notes || format('%s has %s future monthly partitions, %s configured', v_parent, v_future, v_ahead);
        END IF;
    END LOOP;
    check_name := 'future_partitions';
    status := (ARRAY['OK', 'WARNING', 'CRITICAL'])[v_worst + 1];
    detail := CASE WHEN v_worst = 0 THEN format('current month and %s months ahead exist', v_ahead)
                   ELSE array_to_string(v_notes, '; ') END;
    RETURN NEXT;

    -- Citus: the live and dead rows of the partitions are on the workers (the coordinator's are empty shells).
    v_citus := todoscale_is_distributed();
    IF v_citus THEN
        IF to_regclass('pg_temp.todoscale_health_stats') IS NOT NULL THEN
            DROP TABLE pg_temp.todoscale_health_stats;
        END IF;
        CREATE TEMP TABLE todoscale_health_stats ON COMMIT DROP AS SELECT * FROM todoscale_citus_table_stats();
    END IF;

    -- 3. Hash skew: a few huge users sharing one todos_active partition make it the slow one.
    IF v_citus THEN
        SELECT max(n) AS biggest, avg(n) AS mean, sum(n) AS total,
               (array_agg(name ORDER BY n DESC))[1] AS biggest_name
        INTO v_rec
        FROM (SELECT c.relname::text AS name, coalesce(s.live_rows, 0)::numeric AS n
              FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
              LEFT JOIN todoscale_health_stats s ON s.table_oid = c.oid
              WHERE i.inhparent = 'todos_active'::regclass) parts;
    ELSE
    SELECT max(n) AS biggest, avg(n) AS mean, sum(n) AS total,
           (array_agg(name ORDER BY n DESC))[1] AS biggest_name
    INTO v_rec
    FROM (SELECT c.relname::text AS name, coalesce(s.n_live_tup, greatest(c.reltuples, 0))::numeric AS n
          FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
          LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
          WHERE i.inhparent = 'todos_active'::regclass) parts;
    END IF;
    check_name := 'hash_partition_skew';
    IF coalesce(v_rec.total, 0) < 16000 THEN
        status := 'OK';
        detail := format('%s rows in todos_active: too few to judge the spread', coalesce(v_rec.total, 0));
    ELSIF v_rec.biggest > v_skew_limit * v_rec.mean THEN
        status := 'WARNING';
        detail := format('%s holds %s rows, %s times the mean partition (%s): a few very large users share it',
                         v_rec.biggest_name, v_rec.biggest, round(v_rec.biggest / v_rec.mean, 1), round(v_rec.mean));
    ELSE
        status := 'OK';
        detail := format('largest partition %s is %s times the mean', v_rec.biggest_name, round(v_rec.biggest / nullif(v_rec.mean, 0), 2));
    END IF;
    RETURN NEXT;

    -- 4. Archival keeping up (the guide's "should be close to 0"), through the partial index.
    SELECT count(*) INTO v_rows FROM todos_active
    WHERE status = 'done' AND completed_at < now() - make_interval(days => v_days);
    check_name := 'archival_backlog';
    status := CASE WHEN v_rows = 0 THEN 'OK' ELSE 'WARNING' END;
    detail := CASE WHEN v_rows = 0 THEN format('no done todos older than %s days in todos_active', v_days)
                   ELSE format('%s done todos older than %s days are still in todos_active: run archive_completed_todos()', v_rows, v_days) END;
    RETURN NEXT;

    -- 5. Every index declared on a parent must exist on every partition, or that partition is scanned.
    SELECT array_agg(format('%s lacks %s', part.relname, pi.relname) ORDER BY part.relname, pi.relname)
    INTO v_notes
    FROM unnest(ARRAY['todos_active'::regclass, 'todos_archived'::regclass, 'ai_todo_interactions'::regclass]) parent(oid)
    JOIN pg_index x ON x.indrelid = parent.oid
    JOIN pg_class pi ON pi.oid = x.indexrelid
    JOIN pg_inherits inh ON inh.inhparent = parent.oid
    JOIN pg_class part ON part.oid = inh.inhrelid
    WHERE NOT EXISTS (SELECT 1 FROM pg_inherits ii JOIN pg_index cx ON cx.indexrelid = ii.inhrelid
                      WHERE ii.inhparent = x.indexrelid AND cx.indrelid = part.oid);
    check_name := 'partition_indexes';
    status := CASE WHEN v_notes IS NULL THEN 'OK' ELSE 'CRITICAL' END;
    detail := CASE WHEN v_notes IS NULL THEN 'every partition has every index of its parent'
                   ELSE array_to_string(v_notes[1:10], '; ') || CASE WHEN cardinality(v_notes) > 10 THEN format(' (+%s more)', cardinality(v_notes) - 10) ELSE '' END
                        || ': run 005_indexing_optimization.sql again' END;
    RETURN NEXT;

    -- 6. Dead tuples: autovacuum is not keeping up with a partition (archival deletes, app updates).
    IF v_citus THEN
        SELECT array_agg(format('%s %s%% dead (%s rows)', c.relname, round(100.0 * s.dead_rows / (s.live_rows + s.dead_rows)), s.dead_rows)
                         ORDER BY s.dead_rows DESC)
        INTO v_notes
        FROM todoscale_health_stats s
        JOIN pg_class c ON c.oid = s.table_oid
        JOIN pg_inherits i ON i.inhrelid = s.table_oid
        WHERE i.inhparent IN ('todos_active'::regclass, 'todos_archived'::regclass, 'ai_todo_interactions'::regclass)
          AND s.dead_rows > 1000
          AND s.dead_rows > v_dead_limit * (s.live_rows + s.dead_rows);
    ELSE
    SELECT array_agg(format('%s %s%% dead (%s rows)', s.relname, round(100.0 * s.n_dead_tup / (s.n_live_tup + s.n_dead_tup)), s.n_dead_tup)
                     ORDER BY s.n_dead_tup DESC)
    INTO v_notes
    FROM pg_stat_user_tables s
    JOIN pg_inherits i ON i.inhrelid = s.relid
    WHERE i.inhparent IN ('todos_active'::regclass, 'todos_archived'::regclass, 'ai_todo_interactions'::regclass)
      AND s.n_dead_tup > 1000
      AND s.n_dead_tup > v_dead_limit * (s.n_live_tup + s.n_dead_tup);
    END IF;
    check_name := 'dead_tuple_ratio';
    status := CASE WHEN v_notes IS NULL THEN 'OK' ELSE 'WARNING' END;
    detail := CASE WHEN v_notes IS NULL THEN format('no partition above %s%% dead tuples', round(v_dead_limit * 100))
                   ELSE array_to_string(v_notes[1:10], '; ') || ': VACUUM them (todoscale maintain daily does after archival)' END;
    RETURN NEXT;

    -- 7. The daily job actually runs.
    SELECT max(h.finished_at) INTO v_last FROM maintenance_history h WHERE h.job = 'daily' AND h.status IN ('OK', 'WARNING');
    check_name := 'daily_maintenance_recent';
    IF v_last IS NULL THEN
        status := 'WARNING';
        detail := 'no successful daily maintenance recorded yet: schedule run_daily_maintenance() (see README)';
    ELSIF v_last < now() - v_max_age THEN
        status := 'CRITICAL';
        detail := format('last successful daily run finished %s ago (limit %s)', date_trunc('minute', now() - v_last), v_max_age);
    ELSE
        status := 'OK';
        detail := format('last successful daily run finished at %s UTC', to_char(v_last AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI'));
    END IF;
    RETURN NEXT;
END;
$$;
