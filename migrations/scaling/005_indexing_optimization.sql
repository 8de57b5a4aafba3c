-- TodoScale phase 5: the indexes the application's queries need.
--
-- Run with: psql -v ON_ERROR_STOP=1 -f migrations/scaling/005_indexing_optimization.sql
-- Every index is declared on the parent table, so every partition has it, including partitions that
-- maintenance creates later. Running it again is a no-op: it only builds what is still missing.
--
-- How it builds without stopping the application's writes (a populated todos_active, a live migration
-- whose mirror trigger writes into it): a plain CREATE INDEX holds a lock that blocks every write to the
-- table it indexes until the build ends, and one transaction over all partitions would hold those locks
-- on every partition until the last index is built. So each index is built in short, separate steps:
--   1. CREATE INDEX ... ON ONLY the parent: a catalog entry, no scan (the parent index stays INVALID
--      until every partition's index is attached);
--   2. CREATE INDEX CONCURRENTLY on each partition: scans the partition while writes go on;
--   3. ALTER INDEX parent ATTACH PARTITION child: a catalog update; the last one makes the parent VALID.
-- Steps 1 and 3 take a write-blocking lock for milliseconds. Waiting for that lock would queue every
-- later writer behind the request, so each waits at most todoscale_index_lock_timeout() (1 s) and is
-- retried a few times, with pauses that leave the writers alone. Step 2 blocks no writer; it may wait
-- for older transactions to end, up to todoscale_index_build_lock_timeout() (2 min).
-- CREATE INDEX CONCURRENTLY cannot run in a transaction block, a function or a DO block, so the steps
-- are data: todoscale_index_plan() returns the statements still needed and psql's \gexec runs each one
-- as its own top-level statement. An interrupted concurrent build leaves an INVALID index behind; the
-- plan of the next run drops it (DROP INDEX CONCURRENTLY) and builds it again.
--
--   SELECT * FROM todoscale_index_plan();   -- what a run would do now (empty when every index is in place)

SET lock_timeout = '5s';
SET client_min_messages = warning;

-- The indexes, in build order: parent table, index name, and the column list with optional INCLUDE and
-- WHERE clause. Partition indexes are named after the parent index (idx_todos_active_user_status_priority_p3,
-- idx_todos_archived_user_completed_2026_01), so EXPLAIN shows which index a query uses.
CREATE OR REPLACE FUNCTION todoscale_index_definitions()
RETURNS TABLE(ord integer, parent_table text, index_name text, definition text)
LANGUAGE sql IMMUTABLE AS $$
    VALUES
    -- todos_active: every query carries user_id first, so each index leads with it and a query prunes to
    -- one partition and then reads one user's slice of that partition's index.
    (1, 'todos_active', 'idx_todos_active_user_status_priority',
        '(user_id, status, priority DESC, created_at DESC, id DESC)'),
    (2, 'todos_active', 'idx_todos_active_user_priority_created',
        '(user_id, priority DESC, created_at DESC, id DESC)'),
    (3, 'todos_active', 'idx_todos_active_user_due',
        '(user_id, due_date) WHERE due_date IS NOT NULL AND status <> ''done'''),
    (4, 'todos_active', 'idx_todos_active_user_project',
        '(user_id, project_id) WHERE project_id IS NOT NULL'),
    (5, 'todos_active', 'idx_todos_active_user_parent',
        '(user_id, parent_todo_id) WHERE parent_todo_id IS NOT NULL'),
    -- The dashboard (counts of open todos by status, overdue, due today / this week, next due) reads only
    -- this index: it holds exactly the open rows, in due order, with status carried along, so a heavy
    -- user's counts are an index-only scan over a few leaf pages instead of one heap page per open todo
    -- (~1,500 scattered heap pages for a heavy user, the cost the benchmark measured on a single table).
    -- Index-only scans need the visibility map, which VACUUM of the (small) active partitions keeps set.
    (6, 'todos_active', 'idx_todos_active_user_open_due_cover',
        '(user_id, due_date) INCLUDE (status) WHERE status IN (''todo'', ''in_progress'')'),
    -- The dashboard's "completed this week": an index-only count of one user's recent done rows.
    (7, 'todos_active', 'idx_todos_active_user_done_completed',
        '(user_id, completed_at) WHERE status = ''done'''),
    -- A user's list, newest first (also the active half of the list that includes the archive).
    (8, 'todos_active', 'idx_todos_active_user_created',
        '(user_id, created_at DESC, id DESC)'),
    -- Archival finds its rows through this index instead of scanning every partition.
    (9, 'todos_active', 'idx_todos_active_done_completed',
        '(completed_at) WHERE status = ''done'''),
    -- todos_archived: a user's history, newest first; lookups by id use the primary key (id, completed_at).
    (10, 'todos_archived', 'idx_todos_archived_user_completed',
        '(user_id, completed_at DESC)'),
    -- The archive half of a user's list newest first: each month's partition stops after one page of rows.
    (11, 'todos_archived', 'idx_todos_archived_user_created',
        '(user_id, created_at DESC, id DESC)'),
    (12, 'todos_archived', 'idx_todos_archived_user_parent',
        '(user_id, parent_todo_id) WHERE parent_todo_id IS NOT NULL'),
    -- ai_todo_interactions: a todo's interactions and a user's recent ones.
    (13, 'ai_todo_interactions', 'idx_ai_interactions_user_todo',
        '(user_id, todo_id, created_at DESC)'),
    (14, 'ai_todo_interactions', 'idx_ai_interactions_user_created',
        '(user_id, created_at DESC)')
$$;

-- How long a write-blocking step (steps 1 and 3 above) may wait for its lock, per attempt. Every write
-- that arrives meanwhile queues behind the request, so this bounds how long the build can stall a writer.
CREATE OR REPLACE FUNCTION todoscale_index_lock_timeout() RETURNS text
LANGUAGE sql IMMUTABLE AS $$ SELECT '1s'::text $$;

-- How long a concurrent build or drop may wait for older transactions and its own (non-blocking) lock.
-- It blocks no writer while waiting; a short timeout would throw away a finished scan of a large
-- partition because one report query ran a few seconds, and leave an INVALID index to build again.
CREATE OR REPLACE FUNCTION todoscale_index_build_lock_timeout() RETURNS text
LANGUAGE sql IMMUTABLE AS $$ SELECT '2min'::text $$;

-- The name of p_index's index on one partition: p_index plus the partition number
-- (todos_active_part_3 -> _p3), the month (todos_archived_2026_01 -> _2026_01) or the last name part
-- (todos_archived_default -> _default).
CREATE OR REPLACE FUNCTION todoscale_partition_index_name(p_index text, p_partition text)
RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT p_index || '_' || CASE
        WHEN p_partition ~ '_part_\d+$' THEN 'p' || substring(p_partition from '_part_(\d+)$')
        WHEN p_partition ~ '_\d{4}_\d{2}$' THEN substring(p_partition from '(\d{4}_\d{2})$')
        ELSE regexp_replace(p_partition, '^.*_', '')
    END
$$;

-- Runs one write-blocking DDL statement with a short lock_timeout, retrying a lock timeout a few times.
-- A failed attempt is rolled back to its savepoint, which releases its lock request, and the pause
-- before the next attempt holds no lock, so queued writers go ahead. After the last attempt the lock
-- timeout error is raised: the caller (psql stops, the migrator retries the whole plan) decides.
-- p_lock_timeout: the wait per attempt; without it the session's todoscale.lock_timeout (a plan that bounds every step
-- tighter sets it first: the live migration's, see 002's migration_index_plan), else todoscale_index_lock_timeout().
DROP FUNCTION IF EXISTS todoscale_execute_with_lock_retries(text, integer);
CREATE OR REPLACE FUNCTION todoscale_execute_with_lock_retries(p_statement text, p_attempts integer DEFAULT 8,
                                                               p_lock_timeout text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('lock_timeout', coalesce(p_lock_timeout, nullif(current_setting('todoscale.lock_timeout', true), ''),
                                                todoscale_index_lock_timeout()), true);
    FOR attempt IN 1..p_attempts LOOP
        BEGIN
            EXECUTE p_statement;
            RETURN;
        EXCEPTION WHEN lock_not_available THEN
            IF attempt = p_attempts THEN
                RAISE;
            END IF;
        END;
        PERFORM pg_sleep(least(0.25 * attempt, 2));
    END LOOP;
END;
$$;

-- Step 1: the parent's index, ON ONLY the parent (no partition is scanned or locked).
CREATE OR REPLACE PROCEDURE todoscale_create_parent_index(p_index text)
LANGUAGE plpgsql AS $$
DECLARE
    v_def record;
BEGIN
    SELECT d.parent_table, d.definition INTO v_def FROM todoscale_index_definitions() d WHERE d.index_name = p_index;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'todoscale_index_definitions() declares no index named %', p_index;
    END IF;
    PERFORM todoscale_execute_with_lock_retries(
        format('CREATE INDEX IF NOT EXISTS %I ON ONLY %s %s', p_index, v_def.parent_table::regclass, v_def.definition));
END;
$$;

-- Step 3: attaches a partition's index to the parent's. Refuses an INVALID index: psql run without
-- ON_ERROR_STOP goes on after a failed concurrent build, and an attached INVALID index could never be
-- replaced (an attached index cannot be dropped) while its partition would be read without it.
CREATE OR REPLACE PROCEDURE todoscale_attach_partition_index(p_parent_index regclass, p_child_index regclass)
LANGUAGE plpgsql AS $$
BEGIN
    IF NOT (SELECT indisvalid FROM pg_index WHERE indexrelid = p_child_index) THEN
        RAISE EXCEPTION 'index % is INVALID (an interrupted or failed concurrent build)', p_child_index
            USING HINT = 'Run 005_indexing_optimization.sql again: it drops the INVALID index and builds it again.';
    END IF;
    PERFORM todoscale_execute_with_lock_retries(
        format('ALTER INDEX %s ATTACH PARTITION %s', p_parent_index, p_child_index));
END;
$$;

-- Step 2 for a small partition, when the caller's plan asks for it (p_plain_max_pages): a plain CREATE INDEX.
-- It blocks that one partition's writes for its build (110 ms for the widest index of a 7 MB partition here),
-- but it does not wait, as a concurrent build does three times, for every older transaction in the database:
-- with writers whose transactions take hundreds of milliseconds, the 404 concurrent builds after a live
-- migration of 1M rows took 55 s, most of it waiting. The lock wait is bounded (p_lock_timeout per attempt),
-- so writers never queue long behind the request.
CREATE OR REPLACE PROCEDURE todoscale_create_small_partition_index(
    p_child text, p_partition regclass, p_definition text, p_lock_timeout text)
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM todoscale_execute_with_lock_retries(
        format('CREATE INDEX IF NOT EXISTS %I ON %s %s', p_child, p_partition, p_definition), 20, p_lock_timeout);
END;
$$;

-- The statements still needed, in order, for every index of todoscale_index_definitions() to exist on
-- its parent and every partition, valid and attached. Each is one top-level statement (psql \gexec, or
-- the migrator one at a time with autocommit). Empty when there is nothing to do, so a re-run (or an
-- installation where 005 has already run) changes nothing. A partition whose index is already attached
-- (also one that maintenance created after the parent index existed and that got an automatically named
-- index) is left as it is.
-- p_plain_max_pages: partitions up to that size get a plain, lock-bounded build (above) instead of a concurrent
-- one; 0 (005's own run): every partition is built concurrently. The live migration (002) passes its own bound.
DROP FUNCTION IF EXISTS todoscale_index_plan();
CREATE OR REPLACE FUNCTION todoscale_index_plan(p_plain_max_pages bigint DEFAULT 0, p_plain_lock_timeout text DEFAULT '200ms')
RETURNS TABLE(step integer, stmt text)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_def          record;
    v_part         record;
    v_parent       regclass;
    v_parent_index oid;
    v_parent_name  text;
    v_child_name   text;
    v_child_valid  boolean;
    v_steps        text[] := '{}';
BEGIN
    FOR v_def IN SELECT * FROM todoscale_index_definitions() d ORDER BY d.ord LOOP
        v_parent := v_def.parent_table::regclass;
        v_parent_name := format('%I.%I', (SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                                          WHERE c.oid = v_parent), v_def.index_name);
        SELECT x.indexrelid INTO v_parent_index
        FROM pg_index x JOIN pg_class c ON c.oid = x.indexrelid
        WHERE x.indrelid = v_parent AND c.relname = v_def.index_name;
        IF v_parent_index IS NULL THEN
            v_steps := v_steps || format('CALL todoscale_create_parent_index(%L)', v_def.index_name);
        END IF;

        FOR v_part IN
            SELECT c.oid, c.relname, c.relnamespace, n.nspname
            FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE i.inhparent = v_parent AND c.relkind = 'r'
            ORDER BY c.relname
        LOOP
            CONTINUE WHEN v_parent_index IS NOT NULL AND EXISTS (
                SELECT 1 FROM pg_inherits ii JOIN pg_index x ON x.indexrelid = ii.inhrelid
                WHERE ii.inhparent = v_parent_index AND x.indrelid = v_part.oid);

            v_child_name := todoscale_partition_index_name(v_def.index_name, v_part.relname);
            -- NULL: no index of that name on the partition; false: a leftover of an interrupted build.
            v_child_valid := (SELECT x.indisvalid
                              FROM pg_class c JOIN pg_index x ON x.indexrelid = c.oid
                              WHERE c.relname = v_child_name AND c.relnamespace = v_part.relnamespace
                                AND x.indrelid = v_part.oid);
            IF v_child_valid IS false THEN
                v_steps := v_steps || format('DROP INDEX CONCURRENTLY IF EXISTS %I.%I', v_part.nspname, v_child_name);
            END IF;
            IF v_child_valid IS NOT true AND p_plain_max_pages > 0 AND pg_relation_size(v_part.oid) <= p_plain_max_pages * current_setting('block_size')::bigint THEN
                v_steps := v_steps || format('CALL todoscale_create_small_partition_index(%L, %L, %L, %L)',
                                             v_child_name, format('%I.%I', v_part.nspname, v_part.relname), v_def.definition,
                                             p_plain_lock_timeout);
            ELSIF v_child_valid IS NOT true THEN
                v_steps := v_steps || format('CREATE INDEX CONCURRENTLY IF NOT EXISTS %I ON %I.%I %s',
                                             v_child_name, v_part.nspname, v_part.relname, v_def.definition);
            END IF;
            v_steps := v_steps || format('CALL todoscale_attach_partition_index(%L, %L)',
                                         v_parent_name, format('%I.%I', v_part.nspname, v_child_name));
        END LOOP;
    END LOOP;

    IF cardinality(v_steps) = 0 THEN
        RETURN;
    END IF;
    -- The session settings the steps run under; a role's statement_timeout would cancel the build of a
    -- large partition part-way and leave an INVALID index behind on every run.
    v_steps := ARRAY[format('SET lock_timeout = %L', todoscale_index_build_lock_timeout()),
                     'SET statement_timeout = 0'] || v_steps;
    RETURN QUERY SELECT s.n::integer, s.t FROM unnest(v_steps) WITH ORDINALITY s(t, n) ORDER BY s.n;
END;
$$;

-- Kept for scripts and operators that call it; 005 no longer does. It builds every partition's index in
-- the caller's transaction, holding a write-blocking lock on each partition until that transaction
-- ends: use it only on an empty layout. On a populated one, run this script (todoscale_index_plan()).
CREATE OR REPLACE FUNCTION todoscale_ensure_partitioned_index(p_parent regclass, p_name text, p_definition text)
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_parent_index oid;
    v_part         record;
    v_child_name   text;
BEGIN
    EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON ONLY %s %s', p_name, p_parent, p_definition);
    v_parent_index := to_regclass(quote_ident(p_name))::oid;

    FOR v_part IN
        SELECT c.oid, c.relname
        FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = p_parent
        ORDER BY c.relname
    LOOP
        -- A partition created after the parent index already has an attached (auto-named) index.
        CONTINUE WHEN EXISTS (
            SELECT 1 FROM pg_inherits ii JOIN pg_index x ON x.indexrelid = ii.inhrelid
            WHERE ii.inhparent = v_parent_index AND x.indrelid = v_part.oid);

        v_child_name := todoscale_partition_index_name(p_name, v_part.relname);
        EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON %s %s', v_child_name, v_part.oid::regclass, p_definition);
        EXECUTE format('ALTER INDEX %I ATTACH PARTITION %I', p_name, v_child_name);
    END LOOP;
END;
$$;

-- todoscale:outside-transaction begin
-- Each row is one statement that psql runs at top level, outside any transaction. The migrator
-- (SchemaMigrator) runs this section after the rest of the script has committed, one statement at a
-- time with autocommit, and journals the script only once the plan is empty.
SELECT stmt FROM todoscale_index_plan() ORDER BY step \gexec
-- todoscale:outside-transaction end

ANALYZE todos_active;

RESET client_min_messages;
RESET statement_timeout;
RESET lock_timeout;
