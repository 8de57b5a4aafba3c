-- TodoScale phase 3, the two scheduled jobs: run_daily_maintenance() (archive, partitions ahead, ANALYZE
-- of what changed) and run_weekly_maintenance() (health, retention, statistics of the parents), each a
-- run in maintenance_history with one step per piece, and the VACUUM the C# runner issues after a daily
-- run. They only compose the other files' functions.
--
-- Included by 003_create_maintenance_jobs.sql (psql \ir), last. Run 003, not this file.

-- Daily: archive done todos older than archive_after_days, make sure partitions exist ahead (and move
-- rows out of DEFAULT), ANALYZE the partitions that changed. Partition DDL runs last so its ACCESS
-- EXCLUSIVE lock on the parent (once a month, when a new month is due) is held only for the short
-- rest of the run. Each step runs in its own subtransaction: a failing step is recorded with its error
-- and the next steps still run. Returns one row per step.
CREATE OR REPLACE FUNCTION run_daily_maintenance()
RETURNS TABLE(step text, status text, rows_affected bigint, duration_ms numeric, detail text)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    v_run       bigint := todoscale_maintenance_begin('daily');
    v_started   timestamptz;
    v_archive   record;
    v_changed   text[] := '{}';
    v_created   text[];
    v_moved     bigint;
    v_rel       text;
    v_state     text;
    v_message   text;
    v_blocked   text;
BEGIN
    IF v_run IS NULL THEN
        RETURN QUERY SELECT * FROM todoscale_maintenance_steps(current_setting('todoscale.maintenance_run_id')::bigint);
        RETURN;
    END IF;

    v_started := clock_timestamp();
    v_blocked := todoscale_archival_blocked_by_migration();
    IF v_blocked IS NOT NULL THEN
        PERFORM todoscale_record_maintenance_step(v_run, 'archive', 'SKIPPED', 0, v_started, v_blocked);
    ELSE
    BEGIN
        v_archive := todoscale_archive(todoscale_maintenance_setting('archive_after_days')::int,
                                       todoscale_maintenance_setting('archive_batch_size')::int);
        v_changed := v_archive.active_partitions || v_archive.archived_partitions;
        PERFORM todoscale_record_maintenance_step(v_run, 'archive', 'OK', v_archive.moved, v_started,
            CASE WHEN v_archive.moved = 0
                 THEN format('no done todos older than %s days', todoscale_maintenance_setting('archive_after_days'))
                 ELSE format('moved %s done todos in %s batch(es) from %s todos_active partition(s) into %s',
                             v_archive.moved, v_archive.batches, cardinality(v_archive.active_partitions),
                             array_to_string(v_archive.archived_partitions, ', ')) END,
            NULL, v_changed);
    EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_message = MESSAGE_TEXT;
        PERFORM todoscale_record_maintenance_step(v_run, 'archive', 'FAILED', 0, v_started, NULL, v_state || ': ' || v_message);
    END;
    END IF;

    v_started := clock_timestamp();
    BEGIN
        SELECT coalesce(array_agg(f.partition_name ORDER BY f.partition_name), '{}'), coalesce(sum(f.rows_moved), 0)
        INTO v_created, v_moved
        FROM ensure_future_partitions(todoscale_maintenance_setting('partition_months_ahead')::int) f;
        v_changed := v_changed || v_created;
        PERFORM todoscale_record_maintenance_step(v_run, 'partitions', 'OK', cardinality(v_created), v_started,
            CASE WHEN cardinality(v_created) = 0
                 THEN format('all partitions present through %s months ahead', todoscale_maintenance_setting('partition_months_ahead'))
                 ELSE format('created %s; moved %s row(s) out of DEFAULT', array_to_string(v_created, ', '), v_moved) END,
            NULL, v_created);
    EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_message = MESSAGE_TEXT;
        PERFORM todoscale_record_maintenance_step(v_run, 'partitions', 'FAILED', 0, v_started, NULL, v_state || ': ' || v_message);
    END;

    v_started := clock_timestamp();
    BEGIN
        v_changed := ARRAY(SELECT DISTINCT r FROM unnest(v_changed) r WHERE to_regclass(r) IS NOT NULL ORDER BY 1);
        FOREACH v_rel IN ARRAY v_changed LOOP
            PERFORM todoscale_execute_with_lock_retry(format('ANALYZE %s', v_rel::regclass));
        END LOOP;
        PERFORM todoscale_record_maintenance_step(v_run, 'analyze', 'OK', cardinality(v_changed), v_started,
            CASE WHEN cardinality(v_changed) = 0 THEN 'nothing changed'
                 ELSE 'analyzed ' || array_to_string(v_changed, ', ') END,
            NULL, v_changed);
    EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_message = MESSAGE_TEXT;
        PERFORM todoscale_record_maintenance_step(v_run, 'analyze', 'FAILED', 0, v_started, NULL, v_state || ': ' || v_message);
    END;

    RETURN QUERY SELECT * FROM todoscale_maintenance_steps(v_run);
END;
$$;

-- Weekly: health check, retention (AI interaction log, archived todos when configured, the maintenance
-- logs themselves), and statistics of the partitioned parents, which autovacuum never analyzes
-- (so estimates for queries spanning partitions would otherwise drift).
CREATE OR REPLACE FUNCTION run_weekly_maintenance()
RETURNS TABLE(step text, status text, rows_affected bigint, duration_ms numeric, detail text)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    v_run     bigint := todoscale_maintenance_begin('weekly');
    v_started timestamptz;
    v_notes   text[];
    v_count   bigint;
    v_months  int;
    v_days    int;
    v_worst   text;
    v_state   text;
    v_message text;
    v_parent  text;
    v_setting text;
BEGIN
    IF v_run IS NULL THEN
        RETURN QUERY SELECT * FROM todoscale_maintenance_steps(current_setting('todoscale.maintenance_run_id')::bigint);
        RETURN;
    END IF;
    -- Citus refuses ANALYZE of the reference table users (statistics, last) once this transaction has read or
    -- written the distributed tables over several connections per worker ("cannot execute DDL on table users
    -- because there was a parallel DML access to distributed table"): one connection per worker throughout.
    IF todoscale_is_distributed() THEN
        PERFORM set_config('citus.multi_shard_modify_mode', 'sequential', true);
    END IF;

    v_started := clock_timestamp();
    BEGIN
        SELECT CASE WHEN bool_or(h.status = 'CRITICAL') THEN 'FAILED' WHEN bool_or(h.status = 'WARNING') THEN 'WARNING' ELSE 'OK' END,
               count(*) FILTER (WHERE h.status <> 'OK'),
               array_agg(h.status || ' ' || h.check_name || ': ' || h.detail) FILTER (WHERE h.status <> 'OK')
        INTO v_worst, v_count, v_notes
        FROM check_partition_health() h;
        PERFORM todoscale_record_maintenance_step(v_run, 'health', v_worst, v_count, v_started,
            CASE WHEN v_notes IS NULL THEN 'every check OK' ELSE array_to_string(v_notes, '; ') END,
            CASE WHEN v_worst = 'FAILED' THEN array_to_string(v_notes, '; ') END);
    EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_message = MESSAGE_TEXT;
        PERFORM todoscale_record_maintenance_step(v_run, 'health', 'FAILED', 0, v_started, NULL, v_state || ': ' || v_message);
    END;

    FOREACH v_parent IN ARRAY ARRAY['ai_todo_interactions', 'todos_archived'] LOOP
        v_started := clock_timestamp();
        v_setting := CASE v_parent WHEN 'ai_todo_interactions' THEN 'ai_interactions_retention_months'
                                   ELSE 'todos_archived_retention_months' END;
        BEGIN
            v_months := todoscale_maintenance_setting(v_setting)::int;
            IF v_months = 0 THEN
                PERFORM todoscale_record_maintenance_step(v_run, 'retention ' || v_parent, 'SKIPPED', 0, v_started,
                    format('%s = 0: everything is kept', v_setting));
            ELSE
                SELECT coalesce(array_agg(d.partition_name ORDER BY d.partition_name), '{}'), coalesce(sum(d.row_estimate), 0)
                INTO v_notes, v_count
                FROM todoscale_drop_old_partitions(v_parent::regclass, v_months) d;
                PERFORM todoscale_record_maintenance_step(v_run, 'retention ' || v_parent, 'OK', v_count, v_started,
                    CASE WHEN cardinality(v_notes) = 0 THEN format('nothing older than %s months', v_months)
                         ELSE format('dropped %s (about %s rows older than %s months)', array_to_string(v_notes, ', '), v_count, v_months) END);
            END IF;
        EXCEPTION WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_message = MESSAGE_TEXT;
            PERFORM todoscale_record_maintenance_step(v_run, 'retention ' || v_parent, 'FAILED', 0, v_started, NULL, v_state || ': ' || v_message);
        END;
    END LOOP;

    v_started := clock_timestamp();
    BEGIN
        v_days := todoscale_maintenance_setting('maintenance_log_retention_days')::int;
        IF v_days <= 0 THEN
            PERFORM todoscale_record_maintenance_step(v_run, 'retention maintenance_history', 'SKIPPED', 0, v_started,
                'maintenance_log_retention_days = 0: everything is kept');
        ELSE
            DELETE FROM maintenance_history h WHERE h.started_at < now() - make_interval(days => v_days) AND h.id <> v_run;
            GET DIAGNOSTICS v_count = ROW_COUNT;
            PERFORM todoscale_record_maintenance_step(v_run, 'retention maintenance_history', 'OK', v_count, v_started,
                format('deleted %s run(s) older than %s days with their step logs', v_count, v_days));
        END IF;
    EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_message = MESSAGE_TEXT;
        PERFORM todoscale_record_maintenance_step(v_run, 'retention maintenance_history', 'FAILED', 0, v_started, NULL, v_state || ': ' || v_message);
    END;

    v_started := clock_timestamp();
    BEGIN
        PERFORM todoscale_execute_with_lock_retry('ANALYZE todos_active, todos_archived, ai_todo_interactions, users, projects');
        PERFORM todoscale_record_maintenance_step(v_run, 'statistics', 'OK', 5, v_started,
            'analyzed todos_active, todos_archived, ai_todo_interactions (parents and partitions), users, projects');
    EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_message = MESSAGE_TEXT;
        PERFORM todoscale_record_maintenance_step(v_run, 'statistics', 'FAILED', 0, v_started, NULL, v_state || ': ' || v_message);
    END;

    RETURN QUERY SELECT * FROM todoscale_maintenance_steps(v_run);
END;
$$;

-- The VACUUM the C# runner issues after a daily run (VACUUM cannot run inside a function): the
-- partitions archival deleted from and inserted into (todoscale_vacuum_statement, bookkeeping.sql).
-- NULL when there is nothing to vacuum.
-- With the archive's partitions goes 009's todos_archived_recent (when it exists): every archived row passes through it
-- and most leave it again at a later trim, so it holds as many dead rows as archival moved.
CREATE OR REPLACE FUNCTION maintenance_vacuum_statement(p_history_id bigint) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT todoscale_vacuum_statement(
        w.rels || CASE WHEN cardinality(w.rels) > 0 THEN ARRAY['todos_archived_recent'] ELSE '{}'::text[] END, true)
    FROM (SELECT ARRAY(SELECT unnest(l.relations)
                       FROM maintenance_job_log l
                       WHERE l.history_id = p_history_id AND l.step = 'archive' AND l.status = 'OK') AS rels) w;
$$;
