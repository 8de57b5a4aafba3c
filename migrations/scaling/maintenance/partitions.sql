-- TodoScale phase 3, partitions ahead and retention: monthly partitions of todos_archived and
-- ai_todo_interactions created before their month begins (so no row lands in DEFAULT), and whole months
-- past their retention dropped. Both take the parent's ACCESS EXCLUSIVE lock only through
-- todoscale_execute_with_lock_retry (bookkeeping.sql): a short lock_timeout, then retries.
--
-- Included by 003_create_maintenance_jobs.sql (psql \ir), after bookkeeping.sql. Run 003, not this file.

-- Makes sure todos_archived and ai_todo_interactions have a partition for the current month, the next
-- months_ahead months, and every month that has rows waiting in the DEFAULT partition (those rows move
-- into the new partition in the same transaction, see todoscale_create_month_partition in 001).
-- Each creation uses todoscale_execute_with_lock_retry. Returns the partitions it created.
CREATE OR REPLACE FUNCTION ensure_future_partitions(months_ahead int DEFAULT 3)
RETURNS TABLE(partition_name text, parent_table text, rows_moved bigint)
LANGUAGE plpgsql AS $$
DECLARE
    v_parent  regclass;
    v_key     text;
    v_default regclass;
    v_month   date;
    v_current date := date_trunc('month', now() AT TIME ZONE 'UTC')::date;
    v_waiting date[];
BEGIN
    IF months_ahead IS NULL OR months_ahead < 0 OR months_ahead > 120 THEN
        RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
            MESSAGE = format('months_ahead must be between 0 and 120 (got %s)', coalesce(months_ahead::text, 'NULL'));
    END IF;

    FOREACH v_parent IN ARRAY ARRAY['todos_archived'::regclass, 'ai_todo_interactions'::regclass] LOOP
        SELECT a.attname INTO v_key
        FROM pg_partitioned_table pt JOIN pg_attribute a ON a.attrelid = pt.partrelid AND a.attnum = pt.partattrs[0]
        WHERE pt.partrelid = v_parent;
        SELECT pt.partdefid::regclass INTO v_default
        FROM pg_partitioned_table pt WHERE pt.partrelid = v_parent AND pt.partdefid <> 0;

        v_waiting := '{}';
        IF v_default IS NOT NULL THEN
            EXECUTE format('SELECT coalesce(array_agg(DISTINCT date_trunc(''month'', %I AT TIME ZONE ''UTC'')::date), ''{}'') FROM %s',
                           v_key, v_default)
                INTO v_waiting;
        END IF;

        FOR v_month IN
            SELECT m FROM (
                SELECT (v_current + make_interval(months => k))::date AS m FROM generate_series(0, months_ahead) k
                UNION
                SELECT unnest(v_waiting)
            ) months ORDER BY m
        LOOP
            partition_name := (SELECT relname FROM pg_class WHERE oid = v_parent) || '_' || to_char(v_month, 'YYYY_MM');
            CONTINUE WHEN to_regclass(quote_ident(partition_name)) IS NOT NULL;

            rows_moved := 0;
            IF v_month = ANY (v_waiting) THEN
                EXECUTE format('SELECT count(*) FROM %s WHERE %I >= $1 AND %I < $2', v_default, v_key, v_key)
                    INTO rows_moved
                    USING (v_month::timestamp AT TIME ZONE 'UTC'), ((v_month + interval '1 month')::timestamp AT TIME ZONE 'UTC');
            END IF;
            PERFORM todoscale_execute_with_lock_retry(
                format('SELECT todoscale_create_month_partition(%L::regclass, %L::date)', v_parent::text, v_month));
            parent_table := v_parent::text;
            RETURN NEXT;
        END LOOP;
    END LOOP;
END;
$$;

-- Drops the monthly partitions of p_parent whose whole month lies more than p_keep_months months
-- before the current one, and deletes rows that old from its DEFAULT partition. Dropping a partition
-- is instant and leaves no dead rows, unlike DELETE; it needs an ACCESS EXCLUSIVE lock on the parent,
-- taken with a short timeout and retries. p_keep_months = 0 keeps everything.
CREATE OR REPLACE FUNCTION todoscale_drop_old_partitions(p_parent regclass, p_keep_months int)
RETURNS TABLE(partition_name text, row_estimate bigint)
LANGUAGE plpgsql AS $$
DECLARE
    v_cutoff  timestamptz;
    v_key     text;
    v_default regclass;
    v_part    record;
    v_deleted bigint;
BEGIN
    IF p_keep_months IS NULL OR p_keep_months < 0 THEN
        RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
            MESSAGE = format('retention for %s must be 0 (keep) or a number of months (got %s)', p_parent, coalesce(p_keep_months::text, 'NULL'));
    END IF;
    IF p_keep_months = 0 THEN
        RETURN;
    END IF;
    v_cutoff := (date_trunc('month', now() AT TIME ZONE 'UTC') - make_interval(months => p_keep_months)) AT TIME ZONE 'UTC';

    FOR v_part IN
        SELECT c.oid::regclass AS rel, c.relname::text AS name, greatest(c.reltuples, 0)::bigint AS estimate
        FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = p_parent
          AND c.relname = (SELECT relname FROM pg_class WHERE oid = p_parent) || '_' || substring(c.relname from '(\d{4}_\d{2})$')
          AND ((to_date(substring(c.relname from '(\d{4}_\d{2})$'), 'YYYY_MM') + interval '1 month')::timestamp AT TIME ZONE 'UTC') <= v_cutoff
        ORDER BY c.relname
    LOOP
        PERFORM todoscale_execute_with_lock_retry(format('DROP TABLE %s', v_part.rel));
        partition_name := v_part.name;
        row_estimate := v_part.estimate;
        RETURN NEXT;
    END LOOP;

    SELECT a.attname INTO v_key
    FROM pg_partitioned_table pt JOIN pg_attribute a ON a.attrelid = pt.partrelid AND a.attnum = pt.partattrs[0]
    WHERE pt.partrelid = p_parent;
    SELECT pt.partdefid::regclass INTO v_default FROM pg_partitioned_table pt WHERE pt.partrelid = p_parent AND pt.partdefid <> 0;
    IF v_default IS NOT NULL THEN
        EXECUTE format('DELETE FROM %s WHERE %I < $1', v_default, v_key) USING v_cutoff;
        GET DIAGNOSTICS v_deleted = ROW_COUNT;
        IF v_deleted > 0 THEN
            partition_name := v_default::text;
            row_estimate := v_deleted;
            RETURN NEXT;
        END IF;
    END IF;

    -- The archive's bounds (009_archive_constant_cost.sql) forget what retention removed: a month that no longer
    -- exists would cost every page of its users an empty probe, and a locator row would point at nothing.
    IF p_parent = to_regclass('todos_archived') AND to_regclass('todos_archived_months') IS NOT NULL THEN
        DELETE FROM todos_archived_months WHERE month < todoscale_month_start(v_cutoff);
        DELETE FROM todos_archived_locator WHERE completed_at < v_cutoff;
        -- The recent copies of dropped rows would still be listed as archived todos.
        IF to_regclass('todos_archived_recent') IS NOT NULL THEN
            DELETE FROM todos_archived_recent WHERE completed_at < v_cutoff;
        END IF;
    END IF;
END;
$$;
