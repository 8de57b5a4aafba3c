-- TodoScale phase 3: maintenance. Archival of done todos, monthly partitions ahead of time, statistics,
-- health checks, a history of every run, and retention.
--
-- Run with: psql -v ON_ERROR_STOP=1 -f migrations/scaling/003_create_maintenance_jobs.sql
-- Needs 001 (the partitioned tables). Only creates tables and functions; running it again is a no-op and
-- keeps the settings an operator changed.
--
-- What runs where:
--   SELECT * FROM run_daily_maintenance();     archive, partitions ahead, ANALYZE of what changed (cron: 02:00)
--   SELECT * FROM run_weekly_maintenance();    health check, retention, statistics of the parents (cron: Sunday 03:00)
--   CALL archive_completed_todos_in_batches(); a large archival backlog, committing every batch
-- `todoscale maintain daily` runs the same function and then VACUUMs the partitions archival touched
-- (VACUUM cannot run inside a function).
--
-- A function is one transaction: run_daily_maintenance() archives in batches of archive_batch_size rows,
-- but they all commit together at the end. That is the right size for the daily trickle (one day of
-- completed todos). A backlog of millions (the first run after the data migration) goes through the
-- procedure archive_completed_todos_in_batches(), which commits each batch so locks and undo stay small.

SET lock_timeout = '5s';
SET client_min_messages = warning;

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
-- Helpers
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
-- Archival
-- ---------------------------------------------------------------------------------------------

-- Why archival must not run while a live migration (002) mirrors `todos`: the mirror trigger keeps each
-- legacy row's one copy where the migration's placement rule (its fixed archive cutoff) puts it, and
-- deletes the old copy from exactly there on the next legacy UPDATE or DELETE. A copy that archival moved
-- to todos_archived is then missed by that delete while the new version is inserted into todos_active:
-- the same id in both tables, and validate_migration() fails (reproduced with archive_completed_todos(0)
-- after two batches and one legacy UPDATE). Archiving resumes after the cutover, when the new tables are
-- the application's own.
-- Returns NULL when archival may go on, else the reason to skip it. When it returns NULL it holds
-- migration_state FOR SHARE until the caller's transaction ends: migration_start() takes that row FOR
-- UPDATE, so a migration cannot start while this transaction moves rows. The first, unlocked read keeps a
-- skipping job from holding that lock (and stalling the migration's batches) for the rest of its run.
CREATE OR REPLACE FUNCTION todoscale_archival_blocked_by_migration() RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    v_state   text;
    v_mirror  boolean;
BEGIN
    IF to_regclass('migration_state') IS NULL THEN
        RETURN NULL;  -- 002 was never installed: no migration can be running
    END IF;
    FOR i IN 1..2 LOOP
        IF i = 1 THEN
            EXECUTE 'SELECT state FROM migration_state' INTO v_state;
        ELSE
            EXECUTE 'SELECT state FROM migration_state FOR SHARE' INTO v_state;
        END IF;
        v_mirror := to_regclass('todos') IS NOT NULL
                    AND EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = to_regclass('todos') AND tgname = 'todoscale_mirror');
        IF v_state IN ('migrating', 'migrated') OR v_mirror THEN
            RETURN format('a migration is mirroring todos (state %s): archiving now would leave ids in both new tables; '
                          'archival resumes after `todoscale migrate cutover`', coalesce(v_state, 'unknown'));
        END IF;
    END LOOP;
    RETURN NULL;
END;
$$;

-- Moves one batch: done todos completed before p_cutoff, oldest first, found through the partial index
-- idx_todos_active_done_completed. The rows are locked FOR UPDATE SKIP LOCKED, so a todo that the
-- application is changing right now is left for the next batch instead of being waited for, and two
-- archivers never pick the same row. A row reopened or deleted between the snapshot and the lock is
-- re-checked by PostgreSQL against the WHERE clause and dropped from the batch. DELETE ... RETURNING
-- feeds the INSERT in the same statement: a row is either in todos_active or in todos_archived.
-- Returns the partitions written so the caller can ANALYZE/VACUUM exactly those.
--
-- p_from is where the previous batch ended (its largest completed_at): the rows that batch deleted stay
-- in the index until VACUUM, so starting every batch from the oldest entry would walk past all of them
-- again and make a run quadratic (minutes instead of seconds for 1M rows). A row completed with an
-- older date while the run goes on is left for the next run.
CREATE OR REPLACE FUNCTION todoscale_archive_batch(
    p_cutoff timestamptz, p_batch_size int, p_from timestamptz,
    OUT moved bigint, OUT active_partitions text[], OUT archived_partitions text[], OUT last_completed_at timestamptz)
LANGUAGE plpgsql
-- The planner estimates the picked set badly and hashes every done row of todos_active to join a few
-- thousand keys (each batch then reads all done rows: a 1M-row archival took minutes). A nested loop
-- looks each picked row up by primary key in its one partition.
SET enable_hashjoin = off
SET enable_mergejoin = off
AS $$
BEGIN
    WITH picked AS (
        SELECT a.user_id, a.id
        FROM todos_active a
        WHERE a.status = 'done' AND a.completed_at < p_cutoff AND a.completed_at >= p_from
        ORDER BY a.completed_at
        LIMIT p_batch_size
        FOR UPDATE SKIP LOCKED
    ), removed AS (
        DELETE FROM todos_active t
        USING picked p
        WHERE t.user_id = p.user_id AND t.id = p.id
          AND t.status = 'done' AND t.completed_at < p_cutoff
        RETURNING t.tableoid AS source_partition, t.*
    ), inserted AS (
        INSERT INTO todos_archived (id, user_id, parent_todo_id, project_id, title, description, status, priority,
                                    due_date, completed_at, ai_generated, created_at, updated_at, archived_at)
        SELECT id, user_id, parent_todo_id, project_id, title, description, status, priority,
               due_date, completed_at, ai_generated, created_at, updated_at, now()
        FROM removed
        RETURNING tableoid AS target_partition
    )
    SELECT (SELECT count(*) FROM inserted),
           coalesce((SELECT array_agg(DISTINCT source_partition::regclass::text) FROM removed), '{}'),
           coalesce((SELECT array_agg(DISTINCT target_partition::regclass::text) FROM inserted), '{}'),
           (SELECT max(completed_at) FROM removed)
    INTO moved, active_partitions, archived_partitions, last_completed_at;
END;
$$;

CREATE OR REPLACE FUNCTION todoscale_archive_cutoff(p_days int) RETURNS timestamptz
LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF p_days IS NULL OR p_days < 0 THEN
        RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
            MESSAGE = format('days must be 0 or more (got %s)', coalesce(p_days::text, 'NULL'));
    END IF;
    -- 0 means "every done todo", including one completed earlier in this very transaction.
    RETURN CASE WHEN p_days = 0 THEN clock_timestamp() ELSE now() - make_interval(days => p_days) END;
END;
$$;

-- Whether an archival is a backlog to walk page by page, and how many heap pages make one batch. A backlog
-- has at least two eligible rows per heap page of todos_active (the first run after the data migration, a
-- daily job that did not run for weeks): batches through idx_todos_active_done_completed in completed_at
-- order then land on random pages, so each page is read, dirtied, written back and pruned once per row it
-- holds rather than once, and every row is looked up again by primary key. `todoscale bench archival`
-- (1M done todos, 2 cores) measured that at 0.45-0.60x the rate of one DELETE ... RETURNING, and walking
-- the pages (todoscale_archive_pages) at 0.96-1.03x, with 13% less WAL and less extra work for the list
-- query meanwhile. Fewer eligible rows (the daily trickle) go through the index, which reads only the pages
-- that hold them: chunk_pages is NULL then. The eligible rows are counted through that same partial index.
CREATE OR REPLACE FUNCTION todoscale_archive_backlog_pages(p_cutoff timestamptz, p_batch_size int,
    OUT chunk_pages bigint, OUT partitions regclass[])
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_eligible bigint;
    v_pages    bigint;
BEGIN
    SELECT count(*) INTO v_eligible FROM todos_active WHERE status = 'done' AND completed_at < p_cutoff;
    partitions := ARRAY(SELECT i.inhrelid::regclass FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                        WHERE i.inhparent = 'todos_active'::regclass ORDER BY c.relname);
    SELECT coalesce(sum(pg_relation_size(r)), 0) / current_setting('block_size')::int INTO v_pages FROM unnest(partitions) r;
    -- Pages per batch so that a batch moves about p_batch_size rows at the table's density.
    chunk_pages := CASE WHEN v_eligible > 0 AND v_eligible >= 2 * v_pages
                        THEN greatest(1, ceil(p_batch_size::numeric * v_pages / v_eligible))::bigint END;
END;
$$;

-- All batches until none is left; used by archive_completed_todos() and the daily run. A backlog is walked
-- page by page (todoscale_archive_backlog_pages), anything else goes through the index.
CREATE OR REPLACE FUNCTION todoscale_archive(
    p_days int, p_batch_size int,
    OUT moved bigint, OUT batches int, OUT active_partitions text[], OUT archived_partitions text[])
LANGUAGE plpgsql AS $$
DECLARE
    v_cutoff  timestamptz := todoscale_archive_cutoff(p_days);
    v_batch   record;
    v_retries int := 0;
    v_from    timestamptz := '-infinity';
    v_plan    record;
    v_part    regclass;
    v_last    bigint;
    v_page    bigint;
    v_blocked text;
BEGIN
    IF p_batch_size IS NULL OR p_batch_size < 1 THEN
        RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
            MESSAGE = format('batch_size must be 1 or more (got %s)', coalesce(p_batch_size::text, 'NULL'));
    END IF;
    moved := 0; batches := 0; active_partitions := '{}'; archived_partitions := '{}';
    v_blocked := todoscale_archival_blocked_by_migration();
    IF v_blocked IS NOT NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'object_not_in_prerequisite_state', MESSAGE = 'archival skipped: ' || v_blocked;
    END IF;
    v_plan := todoscale_archive_backlog_pages(v_cutoff, p_batch_size);
    IF v_plan.chunk_pages IS NOT NULL THEN
        FOREACH v_part IN ARRAY v_plan.partitions LOOP
            -- Pages added after this point hold rows written during the run: the next run takes them.
            v_last := pg_relation_size(v_part) / current_setting('block_size')::int;
            v_page := 0;
            WHILE v_page < v_last LOOP
                BEGIN
                    v_batch := todoscale_archive_pages(v_part, v_cutoff, v_page, v_plan.chunk_pages);
                EXCEPTION WHEN serialization_failure THEN
                    -- As below: a picked row moved to another partition; these pages again.
                    v_retries := v_retries + 1;
                    IF v_retries > 10 THEN
                        RAISE;
                    END IF;
                    CONTINUE;
                END;
                v_page := v_page + v_plan.chunk_pages;
                IF v_batch.moved > 0 THEN
                    moved := moved + v_batch.moved;
                    batches := batches + 1;
                    active_partitions := ARRAY(SELECT DISTINCT unnest(active_partitions || v_part::text) ORDER BY 1);
                    archived_partitions := ARRAY(SELECT DISTINCT unnest(archived_partitions || v_batch.archived_partitions) ORDER BY 1);
                END IF;
            END LOOP;
        END LOOP;
        RETURN;
    END IF;
    LOOP
        BEGIN
            v_batch := todoscale_archive_batch(v_cutoff, p_batch_size, v_from);
        EXCEPTION WHEN serialization_failure THEN
            -- An application UPDATE moved a picked row to another hash partition (user_id changed)
            -- after we picked it: PostgreSQL refuses to lock it. This batch is undone; pick again.
            v_retries := v_retries + 1;
            IF v_retries > 10 THEN
                RAISE;
            END IF;
            CONTINUE;
        END;
        EXIT WHEN v_batch.moved = 0;
        moved := moved + v_batch.moved;
        batches := batches + 1;
        v_from := v_batch.last_completed_at;
        active_partitions := ARRAY(SELECT DISTINCT unnest(active_partitions || v_batch.active_partitions) ORDER BY 1);
        archived_partitions := ARRAY(SELECT DISTINCT unnest(archived_partitions || v_batch.archived_partitions) ORDER BY 1);
    END LOOP;
END;
$$;

-- The guide's interface: archive_completed_todos(0) archives every done todo at once.
-- Returns how many rows moved. One transaction (see the top of this file for large backlogs).
-- While a migration mirrors todos it moves nothing, returns 0 and says why in a WARNING.
CREATE OR REPLACE FUNCTION archive_completed_todos(days int DEFAULT 30, batch_size int DEFAULT 5000)
RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    v_blocked text := todoscale_archival_blocked_by_migration();
BEGIN
    IF v_blocked IS NOT NULL THEN
        RAISE WARNING 'archive_completed_todos skipped: %', v_blocked;
        RETURN 0;
    END IF;
    RETURN (todoscale_archive(days, batch_size)).moved;
END;
$$;

-- Moves the eligible rows stored on heap pages [p_first_page, p_first_page + p_pages) of one todos_active
-- partition: a TID range scan of those pages only, each row locked FOR UPDATE SKIP LOCKED as in
-- todoscale_archive_batch() (a row the application is changing is left alone, two archivers never take the
-- same row), then deleted by its ctid and inserted into todos_archived in the same statement, so a row is in
-- exactly one of the two tables. The DELETE re-checks status and completed_at, and a row the application
-- updated after this statement's snapshot is not visible to it at all: that row stays, for the next run.
-- The partition name is a regclass, quoted by format(). Used for a backlog (todoscale_archive_backlog_pages);
-- returns the rows moved and the archive partitions written, as todoscale_archive_batch() does.
CREATE OR REPLACE FUNCTION todoscale_archive_pages(p_partition regclass, p_cutoff timestamptz, p_first_page bigint, p_pages bigint,
    OUT moved bigint, OUT archived_partitions text[])
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format($sql$
        WITH picked AS (
            SELECT a.ctid AS row_ctid
            FROM %1$s a
            WHERE a.ctid >= $1 AND a.ctid < $2 AND a.status = 'done' AND a.completed_at < $3
            FOR UPDATE SKIP LOCKED
        ), removed AS (
            DELETE FROM %1$s t
            WHERE t.ctid = ANY (ARRAY(SELECT row_ctid FROM picked))
              AND t.status = 'done' AND t.completed_at < $3
            RETURNING t.*
        ), inserted AS (
            INSERT INTO todos_archived (id, user_id, parent_todo_id, project_id, title, description, status, priority,
                                        due_date, completed_at, ai_generated, created_at, updated_at, archived_at)
            SELECT id, user_id, parent_todo_id, project_id, title, description, status, priority,
                   due_date, completed_at, ai_generated, created_at, updated_at, now()
            FROM removed
            RETURNING tableoid AS target_partition
        )
        SELECT (SELECT count(*) FROM inserted),
               coalesce((SELECT array_agg(d.p::regclass::text ORDER BY d.p) FROM (SELECT DISTINCT target_partition AS p FROM inserted) d), '{}')
        $sql$, p_partition)
    INTO moved, archived_partitions
    USING format('(%s,0)', p_first_page)::tid, format('(%s,0)', p_first_page + p_pages)::tid, p_cutoff;
END;
$$;

-- The same archival committing after every batch, for a backlog of millions: each batch's row locks
-- are released and its rows visible in todos_archived at once, and an interrupted run keeps what it
-- moved (run it again to continue). CALL it outside an explicit transaction block.
--
-- A backlog is walked page by page, anything else goes through the index, as in todoscale_archive()
-- (todoscale_archive_backlog_pages says which and why). A row the application held locked, or updated
-- meanwhile, stays for the next run.
-- throttle pauses after each batch's COMMIT (holding no row lock and no snapshot), as migrate_todos() in
-- 002 does: on a small server a batch loop keeps one core busy for the whole run, and the application's
-- queries wait for that core. CALL archive_completed_todos_in_batches(30, 5000, throttle => '60 ms');
--
-- The two-argument version is dropped first: CREATE OR REPLACE with a third argument would add a second
-- procedure beside it, and every existing CALL archive_completed_todos_in_batches(30, 5000) would then
-- fail as ambiguous. Those calls keep working through the default.
DROP PROCEDURE IF EXISTS archive_completed_todos_in_batches(int, int);
CREATE OR REPLACE PROCEDURE archive_completed_todos_in_batches(days int DEFAULT 30, batch_size int DEFAULT 5000,
                                                               throttle interval DEFAULT '0')
LANGUAGE plpgsql AS $$
DECLARE
    v_cutoff   timestamptz := todoscale_archive_cutoff(days);
    v_plan     record;
    v_part     regclass;
    v_last     bigint;
    v_page     bigint;
    v_moved    bigint;
    v_batch    record;
    v_total    bigint := 0;
    v_from     timestamptz := '-infinity';
    v_batches  int := 0;
    v_retries  int := 0;
    v_blocked  text;
BEGIN
    IF batch_size IS NULL OR batch_size < 1 THEN
        RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
            MESSAGE = format('batch_size must be 1 or more (got %s)', coalesce(batch_size::text, 'NULL'));
    END IF;
    IF throttle IS NULL OR throttle < interval '0' THEN
        RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
            MESSAGE = format('throttle must be 0 or more (got %s)', coalesce(throttle::text, 'NULL'));
    END IF;

    v_plan := todoscale_archive_backlog_pages(v_cutoff, batch_size);
    IF v_plan.chunk_pages IS NOT NULL THEN
        FOREACH v_part IN ARRAY v_plan.partitions LOOP
            -- Pages added after this point hold rows written during the run: the next run takes them.
            v_last := pg_relation_size(v_part) / current_setting('block_size')::int;
            v_page := 0;
            WHILE v_page < v_last LOOP
                -- Checked in every batch's own transaction: a migration may start between two commits.
                v_blocked := todoscale_archival_blocked_by_migration();
                IF v_blocked IS NOT NULL THEN
                    RAISE WARNING 'archive_completed_todos_in_batches stopped after % rows: %', v_total, v_blocked;
                    RETURN;
                END IF;
                BEGIN
                    v_moved := (todoscale_archive_pages(v_part, v_cutoff, v_page, v_plan.chunk_pages)).moved;
                EXCEPTION WHEN serialization_failure THEN
                    -- An application UPDATE moved a picked row to another partition (its user changed):
                    -- PostgreSQL refuses to lock it and the batch is undone; take the same pages again.
                    v_retries := v_retries + 1;
                    IF v_retries > 10 THEN
                        RAISE;
                    END IF;
                    CONTINUE;
                END;
                COMMIT;
                v_page := v_page + v_plan.chunk_pages;
                IF v_moved > 0 THEN
                    v_total := v_total + v_moved;
                    v_batches := v_batches + 1;
                    IF v_batches % 20 = 0 THEN
                        RAISE NOTICE 'archived % rows so far', v_total;
                    END IF;
                    IF throttle > interval '0' THEN
                        PERFORM pg_sleep_for(throttle);
                    END IF;
                END IF;
            END LOOP;
        END LOOP;
    ELSE
        LOOP
            v_blocked := todoscale_archival_blocked_by_migration();
            IF v_blocked IS NOT NULL THEN
                RAISE WARNING 'archive_completed_todos_in_batches stopped after % rows: %', v_total, v_blocked;
                RETURN;
            END IF;
            BEGIN
                v_batch := todoscale_archive_batch(v_cutoff, batch_size, v_from);
            EXCEPTION WHEN serialization_failure THEN
                v_retries := v_retries + 1;
                IF v_retries > 10 THEN
                    RAISE;
                END IF;
                CONTINUE;
            END;
            COMMIT;
            EXIT WHEN v_batch.moved = 0;
            v_from := v_batch.last_completed_at;
            v_total := v_total + v_batch.moved;
            v_batches := v_batches + 1;
            IF v_batches % 20 = 0 THEN
                RAISE NOTICE 'archived % rows so far', v_total;
            END IF;
            IF throttle > interval '0' THEN
                PERFORM pg_sleep_for(throttle);
            END IF;
        END LOOP;
    END IF;
    RAISE NOTICE 'archived % rows in total', v_total;
END;
$$;

-- ---------------------------------------------------------------------------------------------
-- Partitions ahead of time
-- ---------------------------------------------------------------------------------------------

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
END;
$$;

-- ---------------------------------------------------------------------------------------------
-- Statistics and health
-- ---------------------------------------------------------------------------------------------

-- One row per partition of every partitioned table (the guide: ORDER BY size_mb DESC).
CREATE OR REPLACE FUNCTION get_partition_statistics()
RETURNS TABLE(partition_name text, parent_table text, row_estimate bigint, dead_rows bigint, size_mb numeric,
              last_vacuum timestamptz, last_analyze timestamptz)
LANGUAGE sql STABLE AS $$
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
$$;

-- One row per index of the application's tables (the guide: WHERE index_scans < 10 finds unused ones).
CREATE OR REPLACE FUNCTION get_index_usage_stats()
RETURNS TABLE(index_name text, table_name text, index_scans bigint, size_mb numeric, tuples_read bigint)
LANGUAGE sql STABLE AS $$
    SELECT s.indexrelname::text,
           s.relname::text,
           s.idx_scan,
           round(pg_relation_size(s.indexrelid) / 1048576.0, 2),
           s.idx_tup_read
    FROM pg_stat_user_indexes s
    ORDER BY s.relname, s.indexrelname;
$$;

-- One row per check, status OK / WARNING / CRITICAL. Cheap enough to run every few minutes: it reads
-- catalogs and statistics, the bounded DEFAULT partitions and one partial index.
CREATE OR REPLACE FUNCTION check_partition_health()
RETURNS TABLE(check_name text, status text, detail text)
LANGUAGE plpgsql STABLE AS $$
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

    -- 3. Hash skew: a few huge users sharing one todos_active partition make it the slow one.
    SELECT max(n) AS biggest, avg(n) AS mean, sum(n) AS total,
           (array_agg(name ORDER BY n DESC))[1] AS biggest_name
    INTO v_rec
    FROM (SELECT c.relname::text AS name, coalesce(s.n_live_tup, greatest(c.reltuples, 0))::numeric AS n
          FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
          LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
          WHERE i.inhparent = 'todos_active'::regclass) parts;
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
    SELECT array_agg(format('%s %s%% dead (%s rows)', s.relname, round(100.0 * s.n_dead_tup / (s.n_live_tup + s.n_dead_tup)), s.n_dead_tup)
                     ORDER BY s.n_dead_tup DESC)
    INTO v_notes
    FROM pg_stat_user_tables s
    JOIN pg_inherits i ON i.inhrelid = s.relid
    WHERE i.inhparent IN ('todos_active'::regclass, 'todos_archived'::regclass, 'ai_todo_interactions'::regclass)
      AND s.n_dead_tup > 1000
      AND s.n_dead_tup > v_dead_limit * (s.n_live_tup + s.n_dead_tup);
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

-- ---------------------------------------------------------------------------------------------
-- Runs: history, steps, the two jobs
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
-- partitions archival deleted from and inserted into, quoted here so no identifier is built in C#.
-- NULL when there is nothing to vacuum.
CREATE OR REPLACE FUNCTION maintenance_vacuum_statement(p_history_id bigint) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT 'VACUUM (ANALYZE) ' || string_agg(to_regclass(r)::text, ', ' ORDER BY r)
    FROM (SELECT DISTINCT unnest(l.relations) AS r
          FROM maintenance_job_log l
          WHERE l.history_id = p_history_id AND l.step = 'archive' AND l.status = 'OK') rels
    WHERE to_regclass(r) IS NOT NULL;
$$;

RESET client_min_messages;
RESET lock_timeout;
