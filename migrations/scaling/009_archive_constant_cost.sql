-- TodoScale 009: a user's archive costs the same at 12 months of history as at 300.
--
-- Run with: psql -v ON_ERROR_STOP=1 -f migrations/scaling/009_archive_constant_cost.sql
-- Needs 001 (todos_archived) and 005 (its indexes). Running it again is a no-op.
--
--   SELECT * FROM todoscale_archived_page(user_id, NULL, NULL, NULL, NULL, NULL, NULL, 20);  -- newest first
--   SELECT * FROM todoscale_archived_todo(user_id, id);                                        -- one by id
--   SELECT todoscale_archived_completed_count(user_id, from_ts, to_ts);                       -- done in a window
--
-- Why: todos_archived has one partition per month and history only grows. The application runs its statements
-- with plan_cache_mode=force_generic_plan (one plan per connection, pruned at executor start-up), and on
-- PostgreSQL 15 a generic plan LOCKS every partition it could touch before it prunes (AcquireExecutorLocks), and
-- a statement without a bound on completed_at cannot prune at all: a user's archive page merged an index scan of
-- every month (0.45 ms at 12 months, 16 ms at 293 in the query benchmark). Two things make it constant:
--
-- 1. A bound from the user's own history. todos_archived_months records which months hold a user's rows, and
--    todos_archived_locator where (in which completed_at) each archived todo is. Both are written by statement
--    triggers on todos_archived (transition tables: one INSERT ... SELECT per archiving statement, not per row),
--    so every path that archives through the parent table keeps them: archival, the migration (002), repair,
--    the application's reopen and delete. A row inserted into a month partition directly is not recorded;
--    TodoScale never does that (todoscale_archive_index_backfill() records such rows afterwards).
-- 2. A plan made with those bounds. The statements that read months are planned with the values of that call
--    (SET plan_cache_mode = force_custom_plan on the months page, EXECUTE ... USING by id and in the week's count), so
--    the planner prunes to the one or two months they read before it opens or locks anything, whatever the session's
--    own setting. Only those statements: a plan costs ~0.25 ms, which a lookup in an ordinary table does not need.
--
-- 3. The newest rows of each user, whole: todos_archived_recent holds, for every user, the archived rows from the
--    newest down to a floor (todos_archived_recent_floor: the 100th newest, todoscale_archived_recent_rows()); a user
--    without a floor has all of their archived rows there. The first pages of a user's archive are then one index scan
--    of the user's one partition of that table (16, by user): a user with a few rows a year has their newest 20 spread over 20
--    months, and a plan over those months costs 60-80 µs of planning per month on PostgreSQL 15 (the months path
--    below, which stays for the pages past the floor and for filters that reject the recent rows). The same triggers
--    keep it, and retention removes what it drops. It costs a second copy of at most 100 rows per user. It has 16 hash
--    partitions by user (todos_archived_recent_part_0..15), which cluster_partitions() (006) keeps in user order.
--    A week's count above the floor (the dashboard's) is read there too.
--
-- The months carry how many rows were archived into them, never decremented by a delete (a reopen would otherwise wait
-- on the counter row that an archival batch holds until it commits): the page treats counts as hints and stays
-- correct when they are off. Retention forgets the months it drops.
--
-- The functions return their columns by name, not the row type of todos_archived: a function that depends on the table's
-- type is dropped with it, and distributing rebuilds the table on the coordinator (Citus local table, then shell).
--
-- On Citus (after migrations/citus/distribute.sql) the triggers are gone (Citus refuses triggers on distributed
-- tables) and so are the two tables; the functions then read todos_archived unbounded, routed to the user's worker
-- as before. todoscale_archive_index_maintained() says which of the two a database does.

SET lock_timeout = '5s';
SET client_min_messages = warning;

CREATE OR REPLACE FUNCTION todoscale_month_start(p_at timestamptz) RETURNS date
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT date_trunc('month', p_at AT TIME ZONE 'UTC')::date
$$;

-- True while todos_archived_recent is still the one unpartitioned table an earlier 009 made (until the plan's
-- todoscale_archive_recent_repartition step replaces it).
CREATE OR REPLACE FUNCTION todoscale_archive_recent_unpartitioned() RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT EXISTS (SELECT 1 FROM pg_class WHERE oid = to_regclass('todos_archived_recent') AND relkind = 'r')
$$;

-- Whole rows, so the first pages never touch a month; its size is bounded by users, not by history. Hash partitions by
-- user like todos_active's: archival writes it in the order users archive, and each partition is small enough for
-- cluster_partitions() to put a user's rows back together within its lock bound (one table of 2.0M rows, 322 MB, was
-- not: its CLUSTER would have held the page's readers for seconds).
CREATE OR REPLACE FUNCTION todoscale_archive_recent_create() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    CREATE TABLE IF NOT EXISTS todos_archived_recent (
        LIKE todos_archived INCLUDING DEFAULTS,
        CONSTRAINT todos_archived_recent_pkey PRIMARY KEY (user_id, id)
    ) PARTITION BY HASH (user_id);
    FOR i IN 0 .. 15 LOOP
        EXECUTE format('CREATE TABLE IF NOT EXISTS %I PARTITION OF todos_archived_recent FOR VALUES WITH (MODULUS 16, REMAINDER %s)',
                       'todos_archived_recent_part_' || i, i);
    END LOOP;
    CREATE INDEX IF NOT EXISTS todos_archived_recent_page ON todos_archived_recent (user_id, completed_at DESC, id DESC);
END;
$$;

DO $$
BEGIN
    -- After distribution todos_archived lives on the workers and carries no trigger: nothing to record here.
    IF todoscale_citus_table_type('todos_archived'::regclass) IS NOT NULL THEN
        RETURN;
    END IF;

    -- Small: one row per user and month that ever held an archived row of that user.
    CREATE TABLE IF NOT EXISTS todos_archived_months (
        user_id uuid   NOT NULL,
        month   date   NOT NULL,
        rows    bigint NOT NULL DEFAULT 0,
        CONSTRAINT todos_archived_months_pkey PRIMARY KEY (user_id, month)
    );
    -- PostgreSQL has no global index on a partitioned table: this is one, for lookups by id.
    CREATE TABLE IF NOT EXISTS todos_archived_locator (
        user_id      uuid        NOT NULL,
        id           uuid        NOT NULL,
        completed_at timestamptz NOT NULL,
        CONSTRAINT todos_archived_locator_pkey PRIMARY KEY (user_id, id)
    );
    -- The partitions whose existing rows the backfill below has recorded (the plan asks only for the others).
    CREATE TABLE IF NOT EXISTS todoscale_archive_index_backfilled (
        partition_name text PRIMARY KEY,
        recorded_at    timestamptz NOT NULL DEFAULT now()
    );
    -- An installation of 009 from before the recent rows were partitioned has them in one table, which cluster_partitions()
    -- (006) can no longer rewrite once it passes cluster_max_mb (~300,000 rows). Its rows are copies: the page stops
    -- reading them here (it reads the months, correct and slower), and the first step of the outside-transaction section
    -- (todoscale_archive_recent_repartition) replaces the table, in a later transaction, once no statement can still
    -- hold a snapshot that saw it ready; the backfill steps then fill the partitions from the months.
    IF todoscale_archive_recent_unpartitioned() THEN
        UPDATE todoscale_archive_recent_state SET ready = false;
    ELSE
        PERFORM todoscale_archive_recent_create();
    END IF;
    -- Every archived row of the user at or above (completed_at, id) is in todos_archived_recent; rows below may be.
    CREATE TABLE IF NOT EXISTS todos_archived_recent_floor (
        user_id      uuid        PRIMARY KEY,
        completed_at timestamptz NOT NULL,
        id           uuid        NOT NULL
    );
    -- Until every partition's rows are in it (the outside-transaction section below), the page does not use it.
    CREATE TABLE IF NOT EXISTS todoscale_archive_recent_state (
        one   boolean PRIMARY KEY DEFAULT true CHECK (one),
        ready boolean NOT NULL DEFAULT false
    );
    INSERT INTO todoscale_archive_recent_state DEFAULT VALUES ON CONFLICT DO NOTHING;
    CREATE TABLE IF NOT EXISTS todoscale_archive_recent_backfilled (
        partition_name text PRIMARY KEY,
        recorded_at    timestamptz NOT NULL DEFAULT now()
    );
    COMMENT ON TABLE todos_archived_recent IS
        'The newest archived todos of each user down to todos_archived_recent_floor: the first archive pages (009_archive_constant_cost.sql).';
    COMMENT ON TABLE todos_archived_months IS
        'Months that hold (or held) a user''s archived todos: the bound of the archive page (009_archive_constant_cost.sql).';
    COMMENT ON TABLE todos_archived_locator IS
        'Where each archived todo is (its completed_at, hence its month): GET by id reads one month (009_archive_constant_cost.sql).';
END;
$$;

-- How many of a user's newest archived rows todos_archived_recent keeps: the list's default page (50, and one more to
-- know whether a next exists) with room for reopened todos, which leave it and are not replaced until the next trim.
CREATE OR REPLACE FUNCTION todoscale_archived_recent_rows() RETURNS int
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS 'SELECT 100';

-- Raises the floor of each of these users who has more than todoscale_archived_recent_rows() rows in
-- todos_archived_recent to the last row kept, and deletes the rows below it. The floor only rises: two archivals of one
-- user that trim at once keep the higher, and rows one of them added below it are ignored by the page and deleted by the
-- next trim. Users in id order, so that two trims lock their floor rows in the same order (no deadlock).
-- Planned for each call (force_custom_plan): after five calls PL/pgSQL may keep a generic plan, which guesses 10 users
-- and keeps the sizes the recent rows had when it was made. Made while they were empty (a rollback's TRUNCATE, then
-- ANALYZE), it scanned a whole partition for every user once they were full: the migration's rebuild of a month of 19k
-- users took 11 s instead of about 1 s (bench migration, held-user run of 2026-12-05 04:33, traced with auto_explain).
CREATE OR REPLACE FUNCTION todoscale_archived_recent_trim(p_users uuid[]) RETURNS void
LANGUAGE plpgsql SET plan_cache_mode = force_custom_plan AS $$
BEGIN
    INSERT INTO todos_archived_recent_floor AS f (user_id, completed_at, id)
    SELECT u.user_id, k.completed_at, k.id
    FROM (SELECT DISTINCT x AS user_id FROM unnest(p_users) x) u
    CROSS JOIN LATERAL (SELECT r.completed_at, r.id FROM todos_archived_recent r WHERE r.user_id = u.user_id
                        ORDER BY r.completed_at DESC, r.id DESC OFFSET todoscale_archived_recent_rows() - 1 LIMIT 1) k
    ORDER BY u.user_id
    ON CONFLICT (user_id) DO UPDATE SET completed_at = excluded.completed_at, id = excluded.id
        WHERE (excluded.completed_at, excluded.id) > (f.completed_at, f.id);
    DELETE FROM todos_archived_recent r
    USING todos_archived_recent_floor f
    WHERE f.user_id = ANY (p_users) AND r.user_id = f.user_id AND (r.completed_at, r.id) < (f.completed_at, f.id);
END;
$$;

-- The statement that adds archived rows from p_source (a trigger's transition table, or a month partition) to
-- todos_archived_recent, leaving out rows below their user's floor. Text, run with EXECUTE by the caller: a transition
-- table is visible to its trigger function's own statements only, not to a function it calls.
--   From a trigger: a row already there is replaced (an UPDATE's new version).
--   From a partition (the backfill): FOR SHARE, so that a todo a concurrent transaction deletes (a reopen) is not copied
--   after its delete trigger has run, which would show a reopened todo in the archive; a row already there was written
--   by a trigger since and is newer than this read.
CREATE OR REPLACE FUNCTION todoscale_archived_recent_add_sql(p_source text, p_backfill boolean) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT format($q$
        INSERT INTO todos_archived_recent AS r (id, user_id, parent_todo_id, project_id, title, description, status, priority,
                                                due_date, completed_at, ai_generated, created_at, updated_at, archived_at)
        SELECT %s n.id, n.user_id, n.parent_todo_id, n.project_id, n.title, n.description, n.status, n.priority,
               n.due_date, n.completed_at, n.ai_generated, n.created_at, n.updated_at, n.archived_at
        FROM %s n LEFT JOIN todos_archived_recent_floor f ON f.user_id = n.user_id
        WHERE f.user_id IS NULL OR (n.completed_at, n.id) >= (f.completed_at, f.id)
        %s
        ON CONFLICT (user_id, id) DO %s$q$,
        -- A trigger's rows may hold one todo twice (moved twice in one statement): the newest wins. The backfill's
        -- FOR SHARE allows no DISTINCT; its DO NOTHING skips a second copy instead.
        CASE WHEN p_backfill THEN '' ELSE 'DISTINCT ON (n.user_id, n.id)' END,
        p_source,
        CASE WHEN p_backfill THEN 'FOR SHARE OF n' ELSE 'ORDER BY n.user_id, n.id, n.completed_at DESC' END,
        CASE WHEN p_backfill THEN 'NOTHING' ELSE
            'UPDATE SET (parent_todo_id, project_id, title, description, status, priority, due_date, completed_at,
                         ai_generated, created_at, updated_at, archived_at)
                      = (excluded.parent_todo_id, excluded.project_id, excluded.title, excluded.description, excluded.status,
                         excluded.priority, excluded.due_date, excluded.completed_at, excluded.ai_generated,
                         excluded.created_at, excluded.updated_at, excluded.archived_at)' END)
$$;

CREATE OR REPLACE FUNCTION todoscale_archived_index_insert() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO todos_archived_months AS m (user_id, month, rows)
    SELECT n.user_id, todoscale_month_start(n.completed_at), count(*) FROM todoscale_new_rows n GROUP BY 1, 2
    ON CONFLICT (user_id, month) DO UPDATE SET rows = m.rows + excluded.rows;
    -- DO UPDATE: a todo reopened and archived again is found in its new month.
    INSERT INTO todos_archived_locator (user_id, id, completed_at)
    SELECT DISTINCT ON (n.user_id, n.id) n.user_id, n.id, n.completed_at FROM todoscale_new_rows n
    ORDER BY n.user_id, n.id, n.completed_at DESC
    ON CONFLICT (user_id, id) DO UPDATE SET completed_at = excluded.completed_at;
    EXECUTE todoscale_archived_recent_add_sql('todoscale_new_rows', false);
    PERFORM todoscale_archived_recent_trim(ARRAY(SELECT DISTINCT n.user_id FROM todoscale_new_rows n));
    RETURN NULL;
END;
$$;

CREATE OR REPLACE FUNCTION todoscale_archived_index_delete() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- completed_at too: a locator row already pointing at a newer archiving of the same todo stays.
    DELETE FROM todos_archived_locator l
    USING todoscale_old_rows o
    WHERE l.user_id = o.user_id AND l.id = o.id AND l.completed_at = o.completed_at;
    DELETE FROM todos_archived_recent r
    USING todoscale_old_rows o
    WHERE r.user_id = o.user_id AND r.id = o.id AND r.completed_at = o.completed_at;
    RETURN NULL;
END;
$$;

-- An UPDATE that changes completed_at moves the row to another month (a cross-partition update, which the INSERT and
-- DELETE transition tables do not see). TodoScale never changes an archived todo's completed_at; an operator may.
CREATE OR REPLACE FUNCTION todoscale_archived_index_update() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO todos_archived_months AS m (user_id, month, rows)
    SELECT n.user_id, todoscale_month_start(n.completed_at), count(*) FROM todoscale_new_rows n
    WHERE NOT EXISTS (SELECT 1 FROM todoscale_old_rows o WHERE o.user_id = n.user_id AND o.id = n.id
                      AND todoscale_month_start(o.completed_at) = todoscale_month_start(n.completed_at))
    GROUP BY 1, 2
    ON CONFLICT (user_id, month) DO UPDATE SET rows = m.rows + excluded.rows;
    INSERT INTO todos_archived_locator (user_id, id, completed_at)
    SELECT DISTINCT ON (n.user_id, n.id) n.user_id, n.id, n.completed_at FROM todoscale_new_rows n
    WHERE NOT EXISTS (SELECT 1 FROM todoscale_old_rows o WHERE o.user_id = n.user_id AND o.id = n.id AND o.completed_at = n.completed_at)
    ORDER BY n.user_id, n.id, n.completed_at DESC
    ON CONFLICT (user_id, id) DO UPDATE SET completed_at = excluded.completed_at;
    -- The recent copy follows every change; a row whose completed_at moved below the floor leaves it.
    DELETE FROM todos_archived_recent r
    USING todoscale_old_rows o
    WHERE r.user_id = o.user_id AND r.id = o.id AND r.completed_at = o.completed_at;
    EXECUTE todoscale_archived_recent_add_sql('todoscale_new_rows', false);
    PERFORM todoscale_archived_recent_trim(ARRAY(SELECT DISTINCT n.user_id FROM todoscale_new_rows n));
    RETURN NULL;
END;
$$;

-- TRUNCATE fires no DELETE trigger: what 009 recorded of the rows goes with them. The migration's rollback empties the
-- archive so; without this the recent rows of todos that no longer exist would still be listed after a new migration.
CREATE OR REPLACE FUNCTION todoscale_archived_index_truncate() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    TRUNCATE todos_archived_months, todos_archived_locator, todos_archived_recent, todos_archived_recent_floor;
    RETURN NULL;
END;
$$;

DO $$
BEGIN
    IF todoscale_citus_table_type('todos_archived'::regclass) IS NOT NULL THEN
        RETURN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = 'todos_archived'::regclass AND tgname = 'todos_archived_index_truncate') THEN
        CREATE TRIGGER todos_archived_index_truncate AFTER TRUNCATE ON todos_archived
            FOR EACH STATEMENT EXECUTE FUNCTION todoscale_archived_index_truncate();
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = 'todos_archived'::regclass AND tgname = 'todos_archived_index_update') THEN
        CREATE TRIGGER todos_archived_index_update AFTER UPDATE ON todos_archived
            REFERENCING OLD TABLE AS todoscale_old_rows NEW TABLE AS todoscale_new_rows
            FOR EACH STATEMENT EXECUTE FUNCTION todoscale_archived_index_update();
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = 'todos_archived'::regclass AND tgname = 'todos_archived_index_insert') THEN
        CREATE TRIGGER todos_archived_index_insert AFTER INSERT ON todos_archived
            REFERENCING NEW TABLE AS todoscale_new_rows
            FOR EACH STATEMENT EXECUTE FUNCTION todoscale_archived_index_insert();
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = 'todos_archived'::regclass AND tgname = 'todos_archived_index_delete') THEN
        CREATE TRIGGER todos_archived_index_delete AFTER DELETE ON todos_archived
            REFERENCING OLD TABLE AS todoscale_old_rows
            FOR EACH STATEMENT EXECUTE FUNCTION todoscale_archived_index_delete();
    END IF;
END;
$$;

-- True when the two tables above are kept by their triggers (a single node); false on Citus.
CREATE OR REPLACE FUNCTION todoscale_archive_index_maintained() RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = 'todos_archived'::regclass AND tgname = 'todos_archived_index_insert')
$$;

-- Records the archived rows of one partition (or of all, NULL) that the two tables lack: the backfill of this
-- script, and the repair after rows were written into a month partition directly. Returns the rows recorded.
CREATE OR REPLACE FUNCTION todoscale_archive_index_backfill(p_partition regclass DEFAULT NULL) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    v_rows bigint;
BEGIN
    IF NOT todoscale_archive_index_maintained() THEN
        RETURN 0;
    END IF;
    -- greatest(): rows the triggers counted meanwhile may be in this snapshot too; a count is a hint (see the page).
    EXECUTE format($q$
        INSERT INTO todos_archived_months AS m (user_id, month, rows)
        SELECT user_id, todoscale_month_start(completed_at), count(*) FROM %s GROUP BY 1, 2
        ON CONFLICT (user_id, month) DO UPDATE SET rows = greatest(m.rows, excluded.rows)$q$, coalesce(p_partition, 'todos_archived'::regclass));
    -- DO NOTHING: a row the trigger recorded meanwhile is newer than what this snapshot saw.
    EXECUTE format($q$
        INSERT INTO todos_archived_locator (user_id, id, completed_at)
        SELECT DISTINCT ON (user_id, id) user_id, id, completed_at FROM %s ORDER BY user_id, id, completed_at DESC
        ON CONFLICT (user_id, id) DO NOTHING$q$, coalesce(p_partition, 'todos_archived'::regclass));
    GET DIAGNOSTICS v_rows = ROW_COUNT;
    IF p_partition IS NOT NULL THEN
        INSERT INTO todoscale_archive_index_backfilled (partition_name) VALUES (p_partition::text)
        ON CONFLICT (partition_name) DO UPDATE SET recorded_at = now();
    END IF;
    RETURN v_rows;
END;
$$;

-- Adds one partition's rows to todos_archived_recent: the backfill of an archive older than that table, and the repair
-- after rows were written into a month directly. Returns the rows added. Run newest partition first, most rows of the
-- older ones fall below the floors the newer ones set; any order is correct. Its row locks (FOR SHARE, see
-- todoscale_archived_recent_add_sql) hold only the rows it copies, until its own transaction ends: a reopen of one of
-- them waits that long (measured: 0.11 s a month, 305 months of 3,200 rows from 2,000 users in 34 s; the trim of each
-- user the month holds is most of it).
CREATE OR REPLACE FUNCTION todoscale_archive_recent_backfill(p_partition regclass) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    v_rows bigint;
BEGIN
    IF NOT todoscale_archive_index_maintained() THEN
        RETURN 0;
    END IF;
    EXECUTE todoscale_archived_recent_add_sql(p_partition::text, true);
    GET DIAGNOSTICS v_rows = ROW_COUNT;
    EXECUTE format('SELECT todoscale_archived_recent_trim(ARRAY(SELECT DISTINCT user_id FROM %s))', p_partition);
    INSERT INTO todoscale_archive_recent_backfilled (partition_name) VALUES (p_partition::text)
    ON CONFLICT (partition_name) DO UPDATE SET recorded_at = now();
    RETURN v_rows;
END;
$$;

-- The last step of the backfill: from now on the page reads a user's newest rows from todos_archived_recent. Refuses
-- (a notice, the page stays on its months) while a partition holding rows has not been added.
CREATE OR REPLACE FUNCTION todoscale_archive_recent_mark_ready() RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    v_part regclass;
    v_rows boolean;
BEGIN
    IF todoscale_archive_recent_unpartitioned() THEN
        RAISE NOTICE 'todos_archived_recent is still one table of an earlier 009: run the steps of todoscale_archive_index_plan()';
        RETURN false;
    END IF;
    FOR v_part IN
        SELECT c.oid::regclass FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'todos_archived'::regclass
          AND NOT EXISTS (SELECT 1 FROM todoscale_archive_recent_backfilled b WHERE b.partition_name = c.oid::regclass::text)
    LOOP
        EXECUTE format('SELECT EXISTS (SELECT 1 FROM %s)', v_part) INTO v_rows;
        IF v_rows THEN
            RAISE NOTICE 'todos_archived_recent is not complete: % was not added (run the steps of todoscale_archive_index_plan())', v_part;
            RETURN false;
        END IF;
    END LOOP;
    UPDATE todoscale_archive_recent_state SET ready = true;
    RETURN true;
END;
$$;

-- True when the page may read a user's newest rows from todos_archived_recent (false on Citus: no such table).
CREATE OR REPLACE FUNCTION todoscale_archive_recent_ready() RETURNS boolean
LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF to_regclass('todoscale_archive_recent_state') IS NULL THEN
        RETURN false;
    END IF;
    RETURN coalesce((SELECT s.ready FROM todoscale_archive_recent_state s), false);
END;
$$;

-- Replaces an earlier 009's unpartitioned todos_archived_recent by the partitioned one (empty; the backfill steps that
-- follow it in todoscale_archive_index_plan() fill it). The script's transaction marked the table not ready; a page
-- whose statement began before that commit may still have read it ready and be about to read the recent rows, and would
-- find an empty table and no floor (TRUNCATE and DROP are not MVCC-safe for older snapshots) and show an empty archive.
-- So this waits until every transaction of this database began after this statement did (at most 60 s, then it fails
-- and the step is run again), and only then drops the table. Its lock waits are bounded by the session's lock_timeout.
CREATE OR REPLACE FUNCTION todoscale_archive_recent_repartition() RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    v_deadline timestamptz := clock_timestamp() + interval '60 seconds';
    v_older    int;
BEGIN
    IF NOT todoscale_archive_recent_unpartitioned() THEN
        RETURN 'todos_archived_recent is already partitioned';
    END IF;
    IF todoscale_archive_recent_ready() THEN
        RAISE EXCEPTION 'todos_archived_recent is still marked ready: run 009_archive_constant_cost.sql again, which marks it not ready first'
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    LOOP
        -- pg_stat_activity is read once per transaction unless its snapshot is cleared.
        PERFORM pg_stat_clear_snapshot();
        SELECT count(*) INTO v_older FROM pg_stat_activity a
        WHERE a.datname = current_database() AND a.pid <> pg_backend_pid() AND a.backend_type = 'client backend'
          AND a.xact_start < statement_timestamp();
        EXIT WHEN v_older = 0;
        IF clock_timestamp() > v_deadline THEN
            RAISE EXCEPTION '% transaction(s) older than this step are still open; run the step again (SELECT todoscale_archive_recent_repartition())', v_older
                USING ERRCODE = 'lock_not_available';
        END IF;
        PERFORM pg_sleep(0.05);
    END LOOP;
    DROP TABLE todos_archived_recent;
    PERFORM todoscale_archive_recent_create();
    TRUNCATE todos_archived_recent_floor, todoscale_archive_recent_backfilled;
    RETURN 'todos_archived_recent replaced by 16 hash partitions; the backfill steps fill them';
END;
$$;

-- The backfill as one statement per partition (the outside-transaction section below): each commits on its own,
-- so a large archive is recorded in steps that a killed run resumes, and no step holds more than one month. The month
-- index first, then the recent rows (newest partition first), then the step that lets the page use them.
CREATE OR REPLACE FUNCTION todoscale_archive_index_plan() RETURNS TABLE(step int, stmt text)
LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF NOT todoscale_archive_index_maintained() THEN
        RETURN;
    END IF;
    RETURN QUERY
        WITH parts AS (
            SELECT c.oid::regclass::text AS part, c.relname::text AS relname
            FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
            WHERE i.inhparent = 'todos_archived'::regclass
        ), repartition AS (
            SELECT todoscale_archive_recent_unpartitioned() AS pending
        ), steps AS (
            SELECT 0 AS phase, ''::text AS relname, 'SELECT todoscale_archive_recent_repartition()' AS stmt
            FROM repartition r WHERE r.pending
            UNION ALL
            SELECT 1 AS phase, p.relname, format('SELECT todoscale_archive_index_backfill(%L::regclass)', p.part) AS stmt
            FROM parts p WHERE NOT EXISTS (SELECT 1 FROM todoscale_archive_index_backfilled b WHERE b.partition_name = p.part)
            UNION ALL
            -- The repartition step empties what was recorded: every partition is added again after it.
            SELECT 2, p.relname, format('SELECT todoscale_archive_recent_backfill(%L::regclass)', p.part)
            FROM parts p, repartition r
            WHERE r.pending OR NOT EXISTS (SELECT 1 FROM todoscale_archive_recent_backfilled b WHERE b.partition_name = p.part)
            UNION ALL
            SELECT 3, '', 'SELECT todoscale_archive_recent_mark_ready()'
            WHERE NOT todoscale_archive_recent_ready()
        )
        SELECT (row_number() OVER (ORDER BY s.phase, CASE WHEN s.phase = 2 THEN s.relname END DESC, s.relname))::int, s.stmt
        FROM steps s;
END;
$$;

-- The archive page as one statement over every month, as the application sent it before 009, with one generic plan
-- per session (pruned at start-up). Cheaper than a plan made for the page's months when those are a large share of all
-- months (a young archive, or a user with few rows spread over it): see todoscale_archived_page_months. Also the page on
-- Citus, where the months table does not exist.
CREATE OR REPLACE FUNCTION todoscale_archived_page_unbounded(
    p_user_id uuid, p_status text, p_project_id uuid, p_due_before timestamptz, p_due_after timestamptz,
    p_after_completed_at timestamptz, p_after_id uuid, p_limit int)
RETURNS TABLE(id uuid, user_id uuid, parent_todo_id uuid, project_id uuid, title text, description text, status text,
              priority integer, due_date timestamptz, completed_at timestamptz, ai_generated boolean, created_at timestamptz,
              updated_at timestamptz, archived_at timestamptz)
LANGUAGE plpgsql STABLE
SET plan_cache_mode = force_generic_plan
AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
        SELECT a.id, a.user_id, a.parent_todo_id, a.project_id, a.title, a.description, a.status, a.priority, a.due_date, a.completed_at,
               a.ai_generated, a.created_at, a.updated_at, a.archived_at FROM todos_archived a
        WHERE a.user_id = p_user_id
          AND (p_status IS NULL OR a.status = p_status)
          AND (p_project_id IS NULL OR a.project_id = p_project_id)
          AND (p_due_before IS NULL OR a.due_date < p_due_before)
          AND (p_due_after IS NULL OR a.due_date >= p_due_after)
          AND (p_after_completed_at IS NULL OR (a.completed_at, a.id) < (p_after_completed_at, p_after_id))
        ORDER BY a.completed_at DESC, a.id DESC
        LIMIT p_limit;
END;
$$;

-- The archive page read from the months (todoscale_archived_page below reads the newest rows from
-- todos_archived_recent first and this for the rest): after the keyset cursor (p_after_completed_at, p_after_id) when
-- given, with the list's optional filters. todos_archived_months says how many rows the user has in
-- each month: the page reads the newest months that hold enough rows, in one statement planned for that range (from
-- the oldest of them to the end of the newest), so it opens those months only. The counts are hints (a reopened todo still counts; a backfill may count low): when the
-- range yields too few rows (or the filters reject rows), the next older range is read, with twice the rows wanted,
-- until the page is full or the user's months are exhausted. Correctness never depends on a count.
CREATE OR REPLACE FUNCTION todoscale_archived_page_months(
    p_user_id uuid, p_status text, p_project_id uuid, p_due_before timestamptz, p_due_after timestamptz,
    p_after_completed_at timestamptz, p_after_id uuid, p_limit int)
RETURNS TABLE(id uuid, user_id uuid, parent_todo_id uuid, project_id uuid, title text, description text, status text,
              priority integer, due_date timestamptz, completed_at timestamptz, ai_generated boolean, created_at timestamptz,
              updated_at timestamptz, archived_at timestamptz)
LANGUAGE plpgsql STABLE
SET plan_cache_mode = force_custom_plan
AS $$
#variable_conflict use_column
DECLARE
    v_left   int := p_limit;
    v_want   bigint := p_limit;
    v_below  date;      -- months older than this one are still to read (NULL: none read yet)
    v_oldest date;      -- the oldest month the next range needs
    v_newest date;      -- the newest month it needs
    v_counted bigint;
    v_month  record;
    v_from   timestamptz;
    v_to     timestamptz;
    v_rows   int;
BEGIN
    IF p_limit IS NULL OR p_limit <= 0 THEN
        RETURN;
    END IF;
    IF NOT todoscale_archive_index_maintained() THEN
        -- Citus (no months table): the one statement over every month. Its generic plan is a fast-path router
        -- query (user_id = parameter), which Citus prunes at execution to the user's worker.
        RETURN QUERY SELECT * FROM todoscale_archived_page_unbounded(p_user_id, p_status, p_project_id, p_due_before, p_due_after,
                                                                     p_after_completed_at, p_after_id, p_limit);
        RETURN;
    END IF;

    LOOP
        v_oldest := NULL;
        v_newest := NULL;
        v_counted := 0;
        FOR v_month IN
            SELECT m.month, m.rows FROM todos_archived_months m
            WHERE m.user_id = p_user_id
              AND (v_below IS NULL OR m.month < v_below)
              AND (p_after_completed_at IS NULL OR m.month <= todoscale_month_start(p_after_completed_at))
            ORDER BY m.month DESC
            -- Every recorded month counts at least one row, so v_want months always suffice; the limit also makes this a
            -- walk down the primary key that stops early, not a read and sort of all of a user's months.
            LIMIT v_want
        LOOP
            v_newest := coalesce(v_newest, v_month.month);
            v_oldest := v_month.month;
            v_counted := v_counted + v_month.rows;
            EXIT WHEN v_counted >= v_want;
        END LOOP;
        EXIT WHEN v_oldest IS NULL;
        -- A plan made for the page's months costs about 60 µs of planning per month; the generic plan over every month
        -- costs 5 µs (small months) to 55 µs (months of 30k rows, 10M in all) per month of the archive in locking,
        -- start-up and index descents (pgbench, 293 months). The page's own plan is used when its months are at most a
        -- quarter of all months, the generic one otherwise (a young archive; a user whose few rows span most months).
        -- Decided once, on the first range.
        IF v_below IS NULL AND 4 * (extract(year FROM age(v_newest, v_oldest)) * 12 + extract(month FROM age(v_newest, v_oldest)) + 1)
                               > (SELECT count(*) FROM pg_inherits i WHERE i.inhparent = 'todos_archived'::regclass) THEN
            RETURN QUERY SELECT * FROM todoscale_archived_page_unbounded(p_user_id, p_status, p_project_id, p_due_before, p_due_after,
                                                                         p_after_completed_at, p_after_id, p_limit);
            RETURN;
        END IF;

        -- Computed here, not in the statement: as parameters they are constants of the custom plan, which the planner
        -- prunes by before it opens a partition; an expression would be pruned only at start-up, after every month was
        -- opened and locked.
        v_from := v_oldest::timestamp AT TIME ZONE 'UTC';
        v_to := (v_newest + interval '1 month')::timestamp AT TIME ZONE 'UTC';
        RETURN QUERY
            SELECT a.id, a.user_id, a.parent_todo_id, a.project_id, a.title, a.description, a.status, a.priority, a.due_date, a.completed_at,
                   a.ai_generated, a.created_at, a.updated_at, a.archived_at FROM todos_archived a
            WHERE a.user_id = p_user_id
              AND a.completed_at >= v_from AND a.completed_at < v_to
              AND (p_status IS NULL OR a.status = p_status)
              AND (p_project_id IS NULL OR a.project_id = p_project_id)
              AND (p_due_before IS NULL OR a.due_date < p_due_before)
              AND (p_due_after IS NULL OR a.due_date >= p_due_after)
              -- The plain bound prunes the months after the cursor; the row comparison orders ties by id.
              AND (p_after_completed_at IS NULL OR a.completed_at <= p_after_completed_at)
              AND (p_after_completed_at IS NULL OR (a.completed_at, a.id) < (p_after_completed_at, p_after_id))
            ORDER BY a.completed_at DESC, a.id DESC
            LIMIT v_left;
        GET DIAGNOSTICS v_rows = ROW_COUNT;
        v_left := v_left - v_rows;
        EXIT WHEN v_left <= 0;
        v_below := v_oldest;
        v_want := 2 * v_left;
    END LOOP;
END;
$$;

-- One page of a user's archived todos, newest completion first, after the keyset cursor (p_after_completed_at,
-- p_after_id) when given, with the list's optional filters. The rows at or above the user's floor are all in
-- todos_archived_recent: they come from one index scan there, and only a page that reaches below the floor (or whose
-- filters reject the recent rows) reads on in the months, from the floor down. Its statements run with the session's
-- plan cache mode: a generic plan of the recent rows prunes to the user's partition at start-up (it locks all 16 first,
-- on PostgreSQL 15: 0.93x of one table's rate in pgbench), where a custom plan would cost its planning on every call.
CREATE OR REPLACE FUNCTION todoscale_archived_page(
    p_user_id uuid, p_status text, p_project_id uuid, p_due_before timestamptz, p_due_after timestamptz,
    p_after_completed_at timestamptz, p_after_id uuid, p_limit int)
RETURNS TABLE(id uuid, user_id uuid, parent_todo_id uuid, project_id uuid, title text, description text, status text,
              priority integer, due_date timestamptz, completed_at timestamptz, ai_generated boolean, created_at timestamptz,
              updated_at timestamptz, archived_at timestamptz)
LANGUAGE plpgsql STABLE
AS $$
#variable_conflict use_column
DECLARE
    v_floor_at timestamptz;
    v_floor_id uuid;
    v_after_at timestamptz := p_after_completed_at;
    v_after_id uuid := p_after_id;
    v_left     int := p_limit;
    v_rows     int;
BEGIN
    IF p_limit IS NULL OR p_limit <= 0 THEN
        RETURN;
    END IF;
    IF todoscale_archive_recent_ready() THEN
        SELECT f.completed_at, f.id INTO v_floor_at, v_floor_id FROM todos_archived_recent_floor f WHERE f.user_id = p_user_id;
        -- A cursor at or below the floor: the page lies wholly in the months.
        IF v_after_at IS NULL OR v_floor_at IS NULL OR (v_after_at, v_after_id) > (v_floor_at, v_floor_id) THEN
            RETURN QUERY
                SELECT r.id, r.user_id, r.parent_todo_id, r.project_id, r.title, r.description, r.status, r.priority, r.due_date,
                       r.completed_at, r.ai_generated, r.created_at, r.updated_at, r.archived_at FROM todos_archived_recent r
                WHERE r.user_id = p_user_id
                  -- Rows below the floor may linger here (a trim that lost a race): they are read from their months.
                  AND (v_floor_at IS NULL OR (r.completed_at, r.id) >= (v_floor_at, v_floor_id))
                  AND (p_status IS NULL OR r.status = p_status)
                  AND (p_project_id IS NULL OR r.project_id = p_project_id)
                  AND (p_due_before IS NULL OR r.due_date < p_due_before)
                  AND (p_due_after IS NULL OR r.due_date >= p_due_after)
                  AND (v_after_at IS NULL OR (r.completed_at, r.id) < (v_after_at, v_after_id))
                ORDER BY r.completed_at DESC, r.id DESC
                LIMIT v_left;
            GET DIAGNOSTICS v_rows = ROW_COUNT;
            v_left := v_left - v_rows;
            -- No floor: every archived row of the user is in the recent table.
            IF v_left <= 0 OR v_floor_at IS NULL THEN
                RETURN;
            END IF;
            v_after_at := v_floor_at;
            v_after_id := v_floor_id;
        END IF;
    END IF;
    RETURN QUERY SELECT * FROM todoscale_archived_page_months(p_user_id, p_status, p_project_id, p_due_before, p_due_after,
                                                              v_after_at, v_after_id, v_left);
END;
$$;

-- A user's archived todo by id. The recent rows first: most todos opened from the archive are on its first pages, and
-- there the lookup is one primary-key probe of the user's partition, which a session's generic plan prunes to at
-- start-up. An older todo: the locator names its completed_at, and one statement planned with that value (EXECUTE
-- ... USING is planned for its parameters) reads that one month. No SET plan_cache_mode = force_custom_plan on the
-- function: it planned every statement at each call, 0.25 ms, and made the GET by id ~10x slower than one table's
-- (bench run, 2026-12-02). Without a locator row the todo is not archived (the triggers record every archived row).
-- On Citus (no locator) the statement over every month, routed to the user's worker.
CREATE OR REPLACE FUNCTION todoscale_archived_todo(p_user_id uuid, p_id uuid)
RETURNS TABLE(id uuid, user_id uuid, parent_todo_id uuid, project_id uuid, title text, description text, status text,
              priority integer, due_date timestamptz, completed_at timestamptz, ai_generated boolean, created_at timestamptz,
              updated_at timestamptz, archived_at timestamptz)
LANGUAGE plpgsql STABLE
AS $$
#variable_conflict use_column
DECLARE
    v_completed_at timestamptz;
BEGIN
    IF todoscale_archive_index_maintained() THEN
        -- A row here is the archived row itself: the triggers replace it on every change and delete it with the row.
        -- Rows below the floor that a trim left behind are still exact copies.
        RETURN QUERY
            SELECT r.id, r.user_id, r.parent_todo_id, r.project_id, r.title, r.description, r.status, r.priority, r.due_date,
                   r.completed_at, r.ai_generated, r.created_at, r.updated_at, r.archived_at
            FROM todos_archived_recent r WHERE r.user_id = p_user_id AND r.id = p_id;
        IF FOUND THEN
            RETURN;
        END IF;
        SELECT l.completed_at INTO v_completed_at
        FROM todos_archived_locator l WHERE l.user_id = p_user_id AND l.id = p_id;
        IF NOT FOUND THEN
            RETURN;
        END IF;
    END IF;
    -- The parameters are constants of this one-shot plan: with the locator's value the planner prunes to that month;
    -- on Citus ($3 NULL) the condition folds away and the statement is routed to the user's worker.
    RETURN QUERY EXECUTE $q$
        SELECT a.id, a.user_id, a.parent_todo_id, a.project_id, a.title, a.description, a.status, a.priority, a.due_date,
               a.completed_at, a.ai_generated, a.created_at, a.updated_at, a.archived_at
        FROM todos_archived a WHERE a.user_id = $1 AND a.id = $2 AND ($3::timestamptz IS NULL OR a.completed_at = $3)$q$
        USING p_user_id, p_id, v_completed_at;
END;
$$;

-- How many of a user's archived todos were completed in [p_from, p_to) (the dashboard's "completed this week"). A window
-- above the user's floor lies wholly in todos_archived_recent, which holds every archived row of the user at or above
-- the floor (all of them without a floor): one index range scan of the user's partition there, no month opened, no
-- plan made per call. Lingering rows below the floor are not counted twice: they lie below p_from. Otherwise the user's
-- months say whether the archive holds any row then (todos_archived_months, one probe of its primary key; archival
-- moves todos done 30 days ago, so for most older weeks it holds none), and only then one count planned with the window
-- (EXECUTE ... USING), which reads the one or two months the window covers. A recent or month row is written in the
-- transaction that archives its rows, and this function reads them and the archive with one snapshot (STABLE), so a
-- count never misses rows it could see.
CREATE OR REPLACE FUNCTION todoscale_archived_completed_count(p_user_id uuid, p_from timestamptz, p_to timestamptz)
RETURNS bigint
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    v_count    bigint;
    v_floor_at timestamptz;
BEGIN
    -- Two IFs: one expression naming todos_archived_months would fail to plan on Citus, where it does not exist.
    IF todoscale_archive_index_maintained() AND p_from IS NOT NULL AND p_to IS NOT NULL THEN
        IF todoscale_archive_recent_ready() THEN
            SELECT f.completed_at INTO v_floor_at FROM todos_archived_recent_floor f WHERE f.user_id = p_user_id;
            -- Strictly below p_from: rows completed at the floor's own instant may sit below it (ties go by id).
            IF v_floor_at IS NULL OR v_floor_at < p_from THEN
                SELECT count(*) INTO v_count FROM todos_archived_recent r
                WHERE r.user_id = p_user_id AND r.completed_at >= p_from AND r.completed_at < p_to;
                RETURN v_count;
            END IF;
        END IF;
        IF NOT EXISTS (SELECT 1 FROM todos_archived_months m
                       WHERE m.user_id = p_user_id
                         AND m.month BETWEEN todoscale_month_start(p_from) AND todoscale_month_start(p_to)) THEN
            RETURN 0;
        END IF;
    END IF;
    EXECUTE $q$
        SELECT count(*) FROM todos_archived a
        WHERE a.user_id = $1 AND a.completed_at >= $2 AND a.completed_at < $3$q$
    INTO v_count USING p_user_id, p_from, p_to;
    RETURN v_count;
END;
$$;

-- todoscale:outside-transaction begin
-- Each row is one statement that psql runs at top level (its own transaction). The migrator runs this section
-- after the rest of the script has committed, so the triggers record every row archived while it runs.
SELECT stmt FROM todoscale_archive_index_plan() ORDER BY step \gexec
-- todoscale:outside-transaction end

RESET client_min_messages;
RESET lock_timeout;
