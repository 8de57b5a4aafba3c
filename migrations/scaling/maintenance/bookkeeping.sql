-- TodoScale phase 3, job bookkeeping: the settings every maintenance job reads, the history of runs and
-- their steps, the one maintenance lock, DDL that gives up instead of queueing the application, and the
-- VACUUM statement built from the partitions a run wrote to (used by 003's daily job and by 006).
--
-- Included by 003_create_maintenance_jobs.sql (psql \ir), first: the tables and the SQL-language functions
-- below are what the other maintenance files and 006 refer to. Run 003, not this file: 003 sets the
-- lock_timeout every piece is installed under.

-- ---------------------------------------------------------------------------------------------
-- Settings, history and the per-step log
-- ---------------------------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS maintenance_settings (
    name        text PRIMARY KEY,
    value       text NOT NULL,
    description text NOT NULL
);

-- ON CONFLICT DO NOTHING: a re-run must not reset what an operator tuned.
INSERT INTO maintenance_settings (name, value, description) VALUES
    ('archive_after_days',               '30',   'Done todos whose completed_at is older than this many days move to todos_archived.'),
    ('archive_batch_size',               '5000', 'Rows moved per archival batch (one DELETE ... RETURNING into todos_archived).'),
    ('partition_months_ahead',           '3',    'Monthly partitions kept ready after the current month (todos_archived, ai_todo_interactions).'),
    ('ddl_lock_timeout',                 '2s',   'lock_timeout for partition DDL and ANALYZE: give up quickly instead of queueing the application behind a long transaction.'),
    ('ddl_lock_retries',                 '5',    'How many times DDL is retried after a lock timeout before the step fails.'),
    ('ddl_retry_delay',                  '1s',   'Pause before the first retry; the n-th retry waits n times this.'),
    ('ai_interactions_retention_months', '12',   'Whole months of ai_todo_interactions kept before the current one; older monthly partitions are dropped. 0 keeps everything.'),
    ('todos_archived_retention_months',  '0',    'Whole months of todos_archived kept; 0 (the default) keeps archived todos forever.'),
    ('maintenance_log_retention_days',   '90',   'maintenance_history and maintenance_job_log rows older than this are deleted by the weekly run. 0 keeps everything.'),
    ('dead_tuple_ratio_warning',         '0.2',  'Health: a partition whose dead tuples exceed this share of its rows (and 1000 rows) is a WARNING.'),
    ('hash_skew_warning',                '2.0',  'Health: a todos_active partition holding more than this multiple of the mean partition is a WARNING.'),
    ('daily_run_max_age_hours',          '36',   'Health: CRITICAL when the last successful daily run is older than this.')
ON CONFLICT (name) DO NOTHING;

CREATE TABLE IF NOT EXISTS maintenance_history (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job         text        NOT NULL,
    started_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    finished_at timestamptz,
    status      text        NOT NULL DEFAULT 'RUNNING',
    summary     text,
    CONSTRAINT maintenance_history_status_check CHECK (status IN ('RUNNING', 'OK', 'WARNING', 'FAILED', 'SKIPPED'))
);
CREATE INDEX IF NOT EXISTS idx_maintenance_history_job_started ON maintenance_history (job, started_at DESC);

CREATE TABLE IF NOT EXISTS maintenance_job_log (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    history_id    bigint      NOT NULL REFERENCES maintenance_history (id) ON DELETE CASCADE,
    step          text        NOT NULL,
    status        text        NOT NULL,
    rows_affected bigint      NOT NULL DEFAULT 0,
    started_at    timestamptz NOT NULL,
    duration_ms   numeric     NOT NULL,
    detail        text,
    error         text,
    -- Partitions the step wrote to: the C# runner VACUUMs the ones archival touched.
    relations     text[]      NOT NULL DEFAULT '{}',
    CONSTRAINT maintenance_job_log_status_check CHECK (status IN ('OK', 'WARNING', 'FAILED', 'SKIPPED'))
);
CREATE INDEX IF NOT EXISTS idx_maintenance_job_log_history ON maintenance_job_log (history_id);

-- ---------------------------------------------------------------------------------------------
-- The maintenance lock, settings lookup, DDL with lock retries
-- ---------------------------------------------------------------------------------------------

-- One advisory lock for every maintenance run (daily, weekly, any app instance, cron, an operator):
-- two runs at once would both try to create the same partition and drop the same month.
-- The C# runner takes it too (session level) so that its VACUUM belongs to the same run.
CREATE OR REPLACE FUNCTION todoscale_maintenance_lock_key() RETURNS bigint
LANGUAGE sql IMMUTABLE AS $$ SELECT x'7D05CA1E00000003'::bigint $$;

CREATE OR REPLACE FUNCTION todoscale_maintenance_setting(p_name text) RETURNS text
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_value text;
BEGIN
    SELECT value INTO v_value FROM maintenance_settings WHERE name = p_name;
    IF v_value IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'undefined_object',
            MESSAGE = format('maintenance setting "%s" is missing; run 003_create_maintenance_jobs.sql again to restore the defaults', p_name);
    END IF;
    RETURN v_value;
END;
$$;

-- Who holds the maintenance lock, for the SKIPPED message.
CREATE OR REPLACE FUNCTION todoscale_maintenance_lock_holder() RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT coalesce(
        (SELECT format('pid %s (%s, since %s)', l.pid, coalesce(nullif(a.application_name, ''), a.usename::text),
                       to_char(coalesce(a.xact_start, a.backend_start) AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS "UTC"'))
         FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid
         WHERE l.locktype = 'advisory' AND l.granted AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
           AND l.classid = (todoscale_maintenance_lock_key() >> 32)::oid
           AND l.objid = (todoscale_maintenance_lock_key() & x'FFFFFFFF'::bigint)::oid
           AND l.objsubid = 1
         LIMIT 1),
        'another session');
$$;

-- Runs one DDL statement with a short lock_timeout, retrying a few times. Partition DDL needs an
-- ACCESS EXCLUSIVE lock on the parent; queueing behind a long report would stall every application
-- query behind the queued DDL (the pg_partman "maintenance blocks readers" failure). The SET clause
-- keeps the lock_timeout change inside this function.
CREATE OR REPLACE FUNCTION todoscale_execute_with_lock_retry(p_sql text) RETURNS void
LANGUAGE plpgsql
SET lock_timeout = '2s'
AS $$
DECLARE
    v_timeout text     := todoscale_maintenance_setting('ddl_lock_timeout');
    v_retries int      := todoscale_maintenance_setting('ddl_lock_retries')::int;
    v_delay   interval := todoscale_maintenance_setting('ddl_retry_delay')::interval;
    v_attempt int      := 0;
BEGIN
    PERFORM set_config('lock_timeout', v_timeout, true);
    LOOP
        v_attempt := v_attempt + 1;
        BEGIN
            EXECUTE p_sql;
            RETURN;
        EXCEPTION WHEN lock_not_available THEN
            IF v_attempt > v_retries THEN
                RAISE EXCEPTION USING ERRCODE = 'lock_not_available',
                    MESSAGE = format('gave up after %s attempts with lock_timeout %s: another transaction holds a lock needed by: %s',
                                     v_attempt, v_timeout, p_sql),
                    HINT = 'Look for long transactions in pg_stat_activity; the next maintenance run retries.';
            END IF;
        END;
        PERFORM pg_sleep(extract(epoch FROM v_delay) * v_attempt);
    END LOOP;
END;
$$;

-- ---------------------------------------------------------------------------------------------
-- Runs and their steps
-- ---------------------------------------------------------------------------------------------

-- Recomputes a run's status and summary from its steps.
CREATE OR REPLACE FUNCTION todoscale_maintenance_finish(p_history_id bigint) RETURNS void
LANGUAGE sql AS $$
    UPDATE maintenance_history h
    SET finished_at = clock_timestamp(),
        status = CASE WHEN bool_or_failed THEN 'FAILED'
                      WHEN bool_or_warning THEN 'WARNING'
                      WHEN all_skipped THEN 'SKIPPED'
                      ELSE 'OK' END,
        summary = steps
    FROM (SELECT coalesce(bool_or(l.status = 'FAILED'), false) AS bool_or_failed,
                 coalesce(bool_or(l.status = 'WARNING'), false) AS bool_or_warning,
                 coalesce(bool_and(l.status = 'SKIPPED'), false) AS all_skipped,
                 string_agg(l.step || ' ' || l.status
                            || CASE WHEN l.status = 'FAILED' THEN ' (' || coalesce(l.error, '') || ')'
                                    WHEN l.status = 'SKIPPED' THEN ' (' || coalesce(l.detail, '') || ')'
                                    ELSE ' ' || l.rows_affected END, '; ' ORDER BY l.id) AS steps
          FROM maintenance_job_log l WHERE l.history_id = p_history_id) agg
    WHERE h.id = p_history_id;
$$;

-- Records one step of a run (the SQL jobs, and the C# runner for its VACUUM) and refreshes the run.
CREATE OR REPLACE FUNCTION todoscale_record_maintenance_step(
    p_history_id bigint, p_step text, p_status text, p_rows bigint, p_started timestamptz,
    p_detail text, p_error text DEFAULT NULL, p_relations text[] DEFAULT '{}',
    p_duration_ms numeric DEFAULT NULL)
RETURNS void
LANGUAGE sql AS $$
    INSERT INTO maintenance_job_log (history_id, step, status, rows_affected, started_at, duration_ms, detail, error, relations)
    VALUES (p_history_id, p_step, p_status, coalesce(p_rows, 0), p_started,
            coalesce(p_duration_ms, round(extract(epoch FROM clock_timestamp() - p_started)::numeric * 1000, 1)),
            p_detail, p_error, coalesce(p_relations, '{}'));
    SELECT todoscale_maintenance_finish(p_history_id);
$$;

-- Starts a run: takes the maintenance lock for this transaction or, when another run holds it, records
-- a SKIPPED run and returns NULL. The run's id is left in the session setting
-- todoscale.maintenance_run_id for the C# runner.
CREATE OR REPLACE FUNCTION todoscale_maintenance_begin(p_job text) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    v_id     bigint;
    v_locked boolean := pg_try_advisory_xact_lock(todoscale_maintenance_lock_key());
BEGIN
    INSERT INTO maintenance_history (job) VALUES (p_job) RETURNING id INTO v_id;
    PERFORM set_config('todoscale.maintenance_run_id', v_id::text, false);
    IF NOT v_locked THEN
        PERFORM todoscale_record_maintenance_step(v_id, 'lock', 'SKIPPED', 0, clock_timestamp(),
            format('another maintenance run holds the lock: %s; this %s run did nothing', todoscale_maintenance_lock_holder(), p_job));
        RETURN NULL;
    END IF;
    RETURN v_id;
END;
$$;

CREATE OR REPLACE FUNCTION todoscale_maintenance_steps(p_history_id bigint)
RETURNS TABLE(step text, status text, rows_affected bigint, duration_ms numeric, detail text)
LANGUAGE sql STABLE AS $$
    SELECT l.step, l.status, l.rows_affected, l.duration_ms,
           CASE WHEN l.status = 'FAILED' THEN l.error ELSE l.detail END
    FROM maintenance_job_log l WHERE l.history_id = p_history_id ORDER BY l.id;
$$;

-- ---------------------------------------------------------------------------------------------
-- The VACUUM after a run
-- ---------------------------------------------------------------------------------------------

-- The VACUUM the C# runner issues after a run that wrote to partitions (VACUUM cannot run inside a
-- function or procedure): the given partitions, each once, quoted by to_regclass here so no identifier is
-- built in C#, leaving out any dropped since. NULL when none is left. The one implementation behind
-- maintenance_vacuum_statement() (after archival: VACUUM (ANALYZE)) and cluster_vacuum_statement() (006,
-- after CLUSTER: VACUUM), so the two cannot drift apart in how they quote or which partitions they skip.
CREATE OR REPLACE FUNCTION todoscale_vacuum_statement(p_relations text[], p_analyze boolean) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT 'VACUUM ' || CASE WHEN p_analyze THEN '(ANALYZE) ' ELSE '' END
           || string_agg(to_regclass(r)::text, ', ' ORDER BY r)
    FROM (SELECT DISTINCT unnest(p_relations) AS r) rels
    WHERE to_regclass(r) IS NOT NULL;
$$;
