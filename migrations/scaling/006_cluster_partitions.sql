-- TodoScale phase 6: keep each user's rows together on disk (periodic CLUSTER, one partition at a time).
--
-- Run with: psql -v ON_ERROR_STOP=1 -f migrations/scaling/006_cluster_partitions.sql
-- Needs 003 (maintenance history, lock, settings, the VACUUM-statement helper) and 005 (the indexes it
-- clusters by). Only creates a procedure, three functions and two settings; running it again is a no-op
-- and keeps tuned settings.
--
--   CALL cluster_partitions();                                              -- thresholds from maintenance_settings
--   CALL cluster_partitions(min_correlation => 0.9, lock_timeout_ms => 2000);
--
-- Why: rows are stored in the order they were written, so a heavy user's 1,500 todos sit on ~1,500
-- different heap pages and the top-20 query or the list reads one page per row. CLUSTER rewrites a
-- partition in (user_id, ...) index order, so one user's rows share one or two pages; new writes make
-- that order decay again, which is why this runs weekly (todoscale maintain weekly / cluster).
--
-- Safety: CLUSTER holds an ACCESS EXCLUSIVE lock on the partition it rewrites (readers and writers of
-- that partition wait for the rewrite: seconds for one of 16 small active partitions). Each partition
-- is its own transaction, so at most one partition is locked at a time. Before each CLUSTER the lock
-- wait is bounded by lock_timeout: a CLUSTER queued behind a long transaction would otherwise queue
-- every later reader of that partition behind its own lock request; such a partition is SKIPPED and
-- the next run retries. CLUSTER needs free disk for a copy of the partition and its indexes.
--
-- CLUSTER leaves the visibility map empty, so index-only scans (the dashboard's covering index) read
-- the heap again until the next VACUUM. A procedure cannot VACUUM: `todoscale maintain cluster` and the
-- weekly job VACUUM the clustered partitions afterwards (cluster_vacuum_statement(run_id) gives the
-- statement); from psql, run the VACUUM the procedure prints as a NOTICE.

SET lock_timeout = '5s';
SET client_min_messages = warning;

INSERT INTO maintenance_settings (name, value, description) VALUES
    ('cluster_min_correlation', '0.9',  'cluster_partitions(): a partition whose pg_stats correlation of user_id is below this (or that has no statistics) is CLUSTERed.'),
    ('cluster_lock_timeout_ms', '2000', 'cluster_partitions(): how long a CLUSTER may wait for its partition''s lock before the partition is skipped until the next run.'),
    ('cluster_max_mb', '88', 'cluster_partitions(): a table larger than this (heap and indexes) is not CLUSTERed: its rewrite would hold its ACCESS EXCLUSIVE lock past the 2 s bound (82 MB took 0.9-1.8 s on the 2-core bench machine).')
ON CONFLICT (name) DO NOTHING;

-- The partitions cluster_partitions() looks at, with the index each is clustered by: every todos_active
-- partition, and every todos_archived month that archival no longer writes to. Archival moves a todo
-- archive_after_days after it was completed, into the month it was completed in, so a month keeps
-- filling until archive_after_days after its end; clustering it earlier would be undone within weeks.
-- The DEFAULT partition and the current and future months are left alone. Also todos_archived_recent (009, when it
-- exists): the first archive pages read a user's newest rows there, and archival writes them in the order users
-- archive, so a user's 100 rows sat on ~96 pages and the page cost 1.5x one clustered table's (pgbench, 2026-12-04).
-- Its 16 hash partitions are clustered one at a time like todos_active's (009 partitions it so that each stays well
-- under cluster_max_mb).
-- index_name is the partition's own index attached to the parent index (NULL when it is missing).
CREATE OR REPLACE FUNCTION todoscale_cluster_candidates()
RETURNS TABLE(partition_name regclass, parent_table text, index_name regclass)
LANGUAGE sql STABLE AS $$
    WITH closed AS (
        SELECT least(date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC',
                     todoscale_archive_cutoff(todoscale_maintenance_setting('archive_after_days')::int)) AS before
    ), parts AS (
        SELECT c.oid, c.relname, 'todos_active'::text AS parent,
               to_regclass('idx_todos_active_user_status_priority') AS parent_index, NULL::regclass AS own_index
        FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'todos_active'::regclass
        UNION ALL
        SELECT c.oid, c.relname, 'todos_archived', to_regclass('idx_todos_archived_user_created'), NULL
        FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid, closed
        WHERE i.inhparent = 'todos_archived'::regclass
          AND c.relname ~ '^todos_archived_\d{4}_\d{2}$'
          AND ((to_date(substring(c.relname from '(\d{4}_\d{2})$'), 'YYYY_MM') + interval '1 month')::timestamp AT TIME ZONE 'UTC') <= closed.before
        UNION ALL
        -- Clustered by its page index (user, newest completion first).
        SELECT c.oid, c.relname, 'todos_archived_recent', to_regclass('todos_archived_recent_page'), NULL
        FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = to_regclass('todos_archived_recent')
    )
    SELECT p.oid::regclass, p.parent,
           coalesce(p.own_index,
                    (SELECT x.indexrelid::regclass FROM pg_inherits ii JOIN pg_index x ON x.indexrelid = ii.inhrelid
                     WHERE ii.inhparent = p.parent_index AND x.indrelid = p.oid))
    FROM parts p
    ORDER BY p.parent, length(p.relname), p.relname;
$$;

-- pg_stats correlation of user_id for one partition: 1 when its rows lie in user order, near 0 when
-- users are interleaved. NULL when the partition has no statistics yet.
CREATE OR REPLACE FUNCTION todoscale_user_correlation(p_partition regclass) RETURNS numeric
LANGUAGE sql STABLE AS $$
    SELECT round(s.correlation::numeric, 3)
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    JOIN pg_stats s ON s.schemaname = n.nspname AND s.tablename = c.relname AND s.attname = 'user_id' AND NOT s.inherited
    WHERE c.oid = p_partition;
$$;

-- Clusters, one partition per transaction, every candidate partition whose order by user has decayed.
-- Takes the maintenance lock for the whole run (session level: the lock of todoscale_maintenance_begin
-- lasts one transaction and this procedure commits after every partition) and records one run, job
-- 'cluster', with a step per partition in maintenance_history / maintenance_job_log:
--   OK      clustered (detail: index and correlation before -> after; relations: the partition)
--   OK      in order  (correlation at or above min_correlation, or the partition fits in one page)
--   SKIPPED another transaction held the partition's lock longer than lock_timeout_ms
--   FAILED  any other error (the next partitions still run)
-- When another maintenance run holds the lock, the run is recorded as SKIPPED and nothing is done.
-- run_id returns the run's maintenance_history id. CALL it outside an explicit transaction block.
CREATE OR REPLACE PROCEDURE cluster_partitions(
    min_correlation numeric DEFAULT NULL,
    lock_timeout_ms integer DEFAULT NULL,
    INOUT run_id bigint DEFAULT NULL)
LANGUAGE plpgsql AS $$
DECLARE
    v_key       bigint := todoscale_maintenance_lock_key();
    v_min       numeric;
    v_timeout   integer;
    v_locked    boolean;
    v_parts     regclass[];
    v_parents   text[];
    v_indexes   regclass[];
    v_part      regclass;
    v_index     regclass;
    v_started   timestamptz;
    v_before    numeric;
    v_after     numeric;
    v_status    text;
    v_detail    text;
    v_error     text;
    v_rows      bigint;
    v_state     text;
    v_message   text;
    v_vacuum    text;
    v_max_mb    numeric;
    v_mb        numeric;
BEGIN
    v_min := coalesce(min_correlation, todoscale_maintenance_setting('cluster_min_correlation')::numeric);
    v_max_mb := todoscale_maintenance_setting('cluster_max_mb')::numeric;
    v_timeout := coalesce(lock_timeout_ms, todoscale_maintenance_setting('cluster_lock_timeout_ms')::integer);
    IF v_min < 0 OR v_min > 1 THEN
        RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
            MESSAGE = format('min_correlation must be between 0 and 1 (got %s)', v_min);
    END IF;
    -- 0 would mean "wait forever", the very queueing this procedure exists to avoid.
    IF v_timeout < 1 THEN
        RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
            MESSAGE = format('lock_timeout_ms must be 1 or more (got %s)', v_timeout);
    END IF;

    -- Fails at once ("invalid transaction termination") inside an explicit transaction block, before
    -- any lock is taken: there the per-partition commits, which keep one lock at a time, are impossible.
    COMMIT;

    v_locked := pg_try_advisory_lock(v_key);
    run_id := todoscale_maintenance_begin('cluster');
    IF run_id IS NULL THEN
        run_id := current_setting('todoscale.maintenance_run_id')::bigint;
        IF v_locked THEN
            PERFORM pg_advisory_unlock(v_key);
        END IF;
        RAISE NOTICE 'cluster_partitions skipped: another maintenance run holds the lock (run %)', run_id;
        RETURN;
    END IF;
    -- While a live migration mirrors todos, every legacy write also writes the copy in a todos_active
    -- partition: CLUSTER's ACCESS EXCLUSIVE lock would make the legacy application wait for each rewrite,
    -- and the partitions are still filling. Clustering resumes after the cutover.
    IF to_regclass('migration_state') IS NOT NULL THEN
        EXECUTE 'SELECT state FROM migration_state' INTO v_state;
        IF v_state IN ('migrating', 'migrated') THEN
            PERFORM todoscale_record_maintenance_step(run_id, 'cluster', 'SKIPPED', 0, clock_timestamp(),
                format('a migration is mirroring todos (state %s): legacy writes would wait for each partition''s rewrite; '
                       'clustering resumes after `todoscale migrate cutover`', v_state));
            COMMIT;
            PERFORM pg_advisory_unlock(v_key);
            RAISE NOTICE 'cluster_partitions skipped: a migration is mirroring todos (state %)', v_state;
            RETURN;
        END IF;
    END IF;
    -- On Citus the coordinator's partitions are empty shells: the correlation that picks the candidates
    -- (pg_stats) is empty there, so every partition would be rewritten every week, and Citus propagates CLUSTER
    -- to the shards but not this session's lock_timeout (citus.propagate_set_commands = none), so a shard's
    -- CLUSTER could queue its readers behind a long transaction on a worker: the very wait this procedure
    -- bounds. Skipped, with the reason, instead of reporting shells as clustered.
    IF todoscale_is_distributed() THEN
        PERFORM todoscale_record_maintenance_step(run_id, 'cluster', 'SKIPPED', 0, clock_timestamp(),
            'todos_active is distributed by Citus: the coordinator''s partitions are empty shells without statistics to pick '
            'candidates from, and lock_timeout does not reach the workers'' shards, where CLUSTER would run unbounded; '
            'rows stay in write order on the workers (docs/scale-out.md)');
        COMMIT;
        PERFORM pg_advisory_unlock(v_key);
        RAISE NOTICE 'cluster_partitions skipped: todos_active is distributed by Citus';
        RETURN;
    END IF;
    -- The RUNNING history row becomes visible; the session lock stays.
    COMMIT;

    SELECT coalesce(array_agg(c.partition_name ORDER BY c.ord), '{}'), coalesce(array_agg(c.parent_table ORDER BY c.ord), '{}'),
           coalesce(array_agg(c.index_name ORDER BY c.ord), '{}')
    INTO v_parts, v_parents, v_indexes
    FROM todoscale_cluster_candidates() WITH ORDINALITY c(partition_name, parent_table, index_name, ord);
    FOR i IN 1 .. cardinality(v_parts) LOOP
        v_part := v_parts[i];
        v_index := v_indexes[i];
        v_started := clock_timestamp();
        v_status := NULL; v_detail := NULL; v_error := NULL; v_rows := 0; v_after := NULL;

        IF to_regclass(v_part::text) IS NULL THEN
            v_status := 'SKIPPED';
            v_detail := 'dropped while the run went on';
        ELSIF v_index IS NULL THEN
            v_status := 'FAILED';
            v_error := format('%s lacks its partition of the %s user index: run 005_indexing_optimization.sql again',
                              v_part, v_parents[i]);
        ELSE
            -- Statistics older than a tenth of the rows' changes (autovacuum's own analyze threshold, which
            -- it may not have reached yet) can still report the order of before the writes.
            IF (SELECT s.n_mod_since_analyze > 0.1 * greatest(s.n_live_tup, 1) FROM pg_stat_user_tables s WHERE s.relid = v_part) THEN
                BEGIN
                    PERFORM set_config('lock_timeout', v_timeout || 'ms', true);
                    EXECUTE format('ANALYZE %s', v_part);
                EXCEPTION WHEN OTHERS THEN
                    NULL; -- lock timeout or the like: decide by the older statistics
                END;
            END IF;
            v_before := todoscale_user_correlation(v_part);
            v_mb := pg_total_relation_size(v_part) / 1048576.0;
            IF pg_relation_size(v_part) <= current_setting('block_size')::bigint THEN
                v_status := 'OK';
                v_detail := 'in order: fits in one page';
            ELSIF v_before IS NOT NULL AND abs(v_before) >= v_min THEN
                v_status := 'OK';
                v_detail := format('in order: user_id correlation %s >= %s', v_before, v_min);
            ELSIF v_mb > v_max_mb THEN
                -- CLUSTER holds ACCESS EXCLUSIVE for the whole rewrite: every reader and writer of the table would wait
                -- that long, past the bound the maintenance promises the application.
                v_status := 'SKIPPED';
                v_detail := format('too large to rewrite within the lock bound: %s MB (heap and indexes) > cluster_max_mb %s; '
                                   'user_id correlation %s stays', round(v_mb, 1), v_max_mb, coalesce(v_before::text, 'unknown'));
            ELSE
                BEGIN
                    PERFORM set_config('lock_timeout', v_timeout || 'ms', true);
                    EXECUTE format('CLUSTER %s USING %I', v_part, (SELECT relname FROM pg_class WHERE oid = v_index));
                    v_status := 'OK';
                EXCEPTION
                    WHEN lock_not_available THEN
                        v_status := 'SKIPPED';
                        v_detail := format('another transaction held its lock longer than lock_timeout %s ms%s; the next run retries', v_timeout,
                            coalesce(' (pid ' || (SELECT string_agg(DISTINCT l.pid::text, ', ') FROM pg_locks l
                                                  WHERE l.relation = v_part AND l.granted AND l.pid <> pg_backend_pid()) || ')', ''));
                    WHEN query_canceled THEN
                        -- A cancel (statement_timeout, Ctrl-C) ends the procedure; the session lock must
                        -- not outlive it in a pooled connection and block every later run.
                        PERFORM pg_advisory_unlock(v_key);
                        RAISE;
                    WHEN OTHERS THEN
                        GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_message = MESSAGE_TEXT;
                        v_status := 'FAILED';
                        v_error := v_state || ': ' || v_message;
                END;
                -- Releases the partition's ACCESS EXCLUSIVE lock before the next one is taken.
                COMMIT;

                IF v_status = 'OK' THEN
                    -- ANALYZE does not block readers or writers; after the commit it no longer extends the
                    -- window in which they wait. It refreshes the correlation the next run decides by.
                    BEGIN
                        PERFORM set_config('lock_timeout', v_timeout || 'ms', true);
                        EXECUTE format('ANALYZE %s', v_part);
                        v_after := todoscale_user_correlation(v_part);
                    EXCEPTION WHEN OTHERS THEN
                        GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_message = MESSAGE_TEXT;
                        v_after := NULL;
                        v_error := 'ANALYZE failed: ' || v_state || ': ' || v_message;
                    END;
                    v_rows := (SELECT greatest(c.reltuples, 0)::bigint FROM pg_class c WHERE c.oid = v_part);
                    v_detail := format('clustered USING %s; user_id correlation %s -> %s',
                                       v_index, coalesce(v_before::text, 'no statistics'), coalesce(v_after::text, 'not analyzed'))
                                || coalesce('; ' || v_error, '');
                    v_error := NULL;
                END IF;
            END IF;
        END IF;

        PERFORM todoscale_record_maintenance_step(run_id, v_part::text, v_status, v_rows, v_started,
            v_detail, v_error,
            CASE WHEN v_detail LIKE 'clustered%' THEN ARRAY[v_part::text] ELSE '{}'::text[] END);
        COMMIT;
    END LOOP;

    IF cardinality(v_parts) = 0 THEN
        PERFORM todoscale_record_maintenance_step(run_id, 'cluster', 'OK', 0, clock_timestamp(), 'no partition to look at');
    END IF;
    PERFORM pg_advisory_unlock(v_key);

    v_vacuum := cluster_vacuum_statement(run_id);
    IF v_vacuum IS NOT NULL THEN
        RAISE NOTICE 'CLUSTER leaves the visibility map empty; for index-only scans run: %', v_vacuum;
    END IF;
END;
$$;

-- The VACUUM that restores index-only scans after a cluster run (VACUUM cannot run inside a
-- procedure): the partitions the run clustered (todoscale_vacuum_statement, in 003's bookkeeping).
-- NULL when the run clustered nothing.
CREATE OR REPLACE FUNCTION cluster_vacuum_statement(p_history_id bigint) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT todoscale_vacuum_statement(
        ARRAY(SELECT unnest(l.relations)
              FROM maintenance_job_log l
              WHERE l.history_id = p_history_id AND l.status = 'OK' AND l.detail LIKE 'clustered%'),
        false);
$$;

RESET client_min_messages;
RESET lock_timeout;
