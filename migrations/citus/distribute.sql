-- TodoScale on Citus: distribute a migrated TodoScale database by user, from its coordinator.
--
-- Run with: psql -v ON_ERROR_STOP=1 -d app -f migrations/citus/distribute.sql   (on the coordinator)
--       or: todoscale db distribute                                            (the same, with progress)
-- Needs: the citus extension in this database on the coordinator and on every worker, the workers added
-- (citus_add_node), the coordinator in the metadata (citus_set_coordinator_host), and TodoScale's scripts
-- up to 007 applied (todoscale db migrate). Not under migrations/scaling: the migrator applies every
-- script there, single nodes included.
--
-- What it makes of the tables (all colocated by user_id, so every per-user statement and every
-- statement joining a user's todos, archive, projects and AI log runs on the one worker holding the user):
--   users                 reference table (a copy on every node): UNIQUE (email) stays one ordinary
--                         index, every foreign key to users(id) stays, sign-in by email is local anywhere.
--                         Its writes (sign-ups) go to every node in one two-phase commit.
--   projects              distributed by user_id (the first one: the others are colocated with it)
--   todos_active          distributed by user_id, its 16 hash partitions distributed with it
--   todos_archived        distributed by user_id, its monthly partitions with it (new months too)
--   ai_todo_interactions  distributed by user_id, as todos_archived
--   everything else       stays a plain table on the coordinator: maintenance_*, migration_*,
--                         todoscale_schema_* and a cut-over legacy `todos` (kept read-only, unchanged)
-- Shard count: citus.shard_count of this session (Citus' default 32), e.g.
--   PGOPTIONS='-c citus.shard_count=16' psql -v ON_ERROR_STOP=1 -d app -f migrations/citus/distribute.sql
-- Each shard of todos_active keeps its 16 local hash partitions (17 tables per shard).
-- A maintenance window instead of online copies (blocking, faster): PGOPTIONS='-c todoscale.distribute_online=off'.
--
-- Online: each table is distributed with create_distributed_table_concurrently(), which copies the rows
-- to the workers while the application reads and writes them (through logical replication, so the
-- coordinator needs wal_level = logical) and blocks writes only for its final switch-over. With another
-- wal_level it falls back to create_distributed_table(), which blocks writes to that table while it
-- copies; the plan says so in its action column. users becomes a reference table with
-- create_reference_table(), which blocks writes to users (not to the todos) while it copies them.
--
-- Idempotent: a table already distributed the intended way is left alone; a second run does nothing.
-- Interrupted (Ctrl-C, a lost connection): run it again; Citus cleans up a cancelled concurrent copy.
-- Afterwards, updated_at: the trigger todos_active_touch_updated_at is dropped (Citus refuses triggers on
-- distributed tables without citus.enable_unsafe_triggers); TodoScale's statements set updated_at
-- themselves, other writers must too.

SET client_min_messages = warning;

-- The distribution, not the application, must lose any deadlock between them: PostgreSQL aborts the waiter whose
-- deadlock_timeout runs out first, and with the default (1 s) an application write that queued behind a step could
-- be the one (a writer failed with 40P01 in DistributeTests). 20 ms for this session makes the distributing backend
-- check, and give way, first; its step is rolled back whole and planned again. Changing it needs a superuser;
-- without one the default stays.
DO $$
BEGIN
    PERFORM set_config('deadlock_timeout', '20ms', false);
EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'deadlock_timeout stays %: only a superuser may lower it for this session', current_setting('deadlock_timeout');
END;
$$;

-- Refuses, with what to do, a database that cannot be distributed yet. Raised from the plan so that
-- psql stops (ON_ERROR_STOP) and `todoscale db distribute` shows the message before anything changes.
CREATE OR REPLACE FUNCTION todoscale_distribution_preflight() RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_workers int;
    v_state   text;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus') THEN
        RAISE EXCEPTION USING ERRCODE = 'feature_not_supported',
            MESSAGE = 'the citus extension is not installed in this database',
            HINT = 'On the coordinator and on every worker: shared_preload_libraries = ''citus'', then CREATE EXTENSION citus; in this database.';
    END IF;
    IF to_regclass('todos_active') IS NULL OR to_regproc('todoscale_citus_projects_key') IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'object_not_in_prerequisite_state',
            MESSAGE = 'TodoScale''s schema is not installed up to 007 in this database',
            HINT = 'Run todoscale db migrate (or psql -f migrations/scaling/001 … 007) first.';
    END IF;
    EXECUTE 'SELECT count(*) FROM citus_get_active_worker_nodes()' INTO v_workers;
    IF v_workers = 0 THEN
        RAISE EXCEPTION USING ERRCODE = 'object_not_in_prerequisite_state',
            MESSAGE = 'this Citus coordinator has no active workers',
            HINT = 'SELECT citus_add_node(''worker-host'', 5432); for each worker, then run this again.';
    END IF;
    -- users becomes a reference table; Citus then turns the tables that reference it into "Citus local
    -- tables" on the coordinator before they are distributed, which needs the coordinator in the metadata.
    IF NOT EXISTS (SELECT 1 FROM pg_dist_node WHERE groupid = 0) THEN
        RAISE EXCEPTION USING ERRCODE = 'object_not_in_prerequisite_state',
            MESSAGE = 'the coordinator is not in the Citus metadata',
            HINT = 'SELECT citus_set_coordinator_host(''coordinator-host'', 5432); then run this again.';
    END IF;
    IF todoscale_citus_table_type('todos_archived'::regclass) IS DISTINCT FROM 'distributed'
       AND NOT EXISTS (SELECT 1 FROM pg_constraint c JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey)
                       WHERE c.conrelid = 'todos_archived'::regclass AND c.contype = 'p' AND a.attname = 'user_id') THEN
        RAISE EXCEPTION USING ERRCODE = 'object_not_in_prerequisite_state',
            MESSAGE = 'todos_archived''s primary key does not contain user_id: 007_citus_ready_keys.sql is not applied',
            HINT = 'Run todoscale db migrate (or psql -f migrations/scaling/007_citus_ready_keys.sql) first.';
    END IF;
    -- A legacy todos table that the application still writes (not migrated, migrating, rolled back) would be
    -- left behind on the coordinator: the application's data has to be in todos_active/todos_archived first.
    IF to_regclass('todos') IS NOT NULL THEN
        v_state := CASE WHEN to_regclass('migration_state') IS NOT NULL THEN (SELECT m.state FROM migration_state m) END;
        IF v_state IS DISTINCT FROM 'cut_over' THEN
            RAISE EXCEPTION USING ERRCODE = 'object_not_in_prerequisite_state',
                MESSAGE = format('the legacy todos table is not cut over (migration state %s)', coalesce(v_state, 'unknown')),
                HINT = 'Migrate on one node first: todoscale migrate run, validate, cutover (or psql -f 002); then distribute.';
        END IF;
    END IF;
END;
$$;

-- The changes Citus needs before the first table is distributed, in one transaction; returns what it did.
-- A cut-over legacy todos table keeps its rows on the coordinator as a plain table; its foreign keys to
-- users and projects go (it is read-only since the cutover, so they guard nothing): Citus would otherwise
-- have to turn it into a Citus local table (users) or refuse (projects, distributed), and projects(id)
-- alone, which that key needs, cannot stay unique on distributed projects.
CREATE OR REPLACE FUNCTION todoscale_distribution_prepare() RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    v_done text[] := '{}';
    v_fk   record;
BEGIN
    PERFORM todoscale_distribution_preflight();
    SET LOCAL lock_timeout = '5s';
    IF to_regclass('todos') IS NOT NULL THEN
        FOR v_fk IN SELECT conname FROM pg_constraint WHERE conrelid = 'todos'::regclass AND contype = 'f'
                    AND confrelid IN ('users'::regclass, 'projects'::regclass) LOOP
            EXECUTE format('ALTER TABLE todos DROP CONSTRAINT %I', v_fk.conname);
            v_done := v_done || format('dropped todos.%s', v_fk.conname);
        END LOOP;
    END IF;
    IF EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = 'todos_active'::regclass AND tgname = 'todos_active_touch_updated_at') THEN
        DROP TRIGGER todos_active_touch_updated_at ON todos_active;
        v_done := v_done || 'dropped trigger todos_active_touch_updated_at (the application sets updated_at)'::text;
    END IF;
    -- 009's bounds of the archive are kept by statement triggers, which Citus refuses on a distributed table; the
    -- archive functions read todos_archived unbounded (routed to the user's worker) once the triggers are gone.
    IF EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = 'todos_archived'::regclass AND tgname LIKE 'todos_archived_index_%') THEN
        DROP TRIGGER IF EXISTS todos_archived_index_insert ON todos_archived;
        DROP TRIGGER IF EXISTS todos_archived_index_delete ON todos_archived;
        DROP TRIGGER IF EXISTS todos_archived_index_update ON todos_archived;
        DROP TRIGGER IF EXISTS todos_archived_index_truncate ON todos_archived;
        DROP TABLE IF EXISTS todos_archived_months, todos_archived_locator, todoscale_archive_index_backfilled,
            todos_archived_recent, todos_archived_recent_floor, todoscale_archive_recent_state, todoscale_archive_recent_backfilled;
        v_done := v_done || 'dropped the archive''s month index of 009 (Citus refuses its triggers; the archive is read per worker)'::text;
    END IF;
    v_done := v_done || todoscale_citus_projects_key();
    RETURN array_to_string(v_done, '; ');
END;
$$;

-- The bytes a Citus table still keeps in the coordinator's own relation (its "shell") and partitions: what a
-- blocking create_distributed_table() / create_reference_table() leaves on disk ("The local data in the table
-- is no longer visible, but is still on disk"). The online copy leaves nothing (Citus drops its source).
CREATE OR REPLACE FUNCTION todoscale_citus_shell_bytes(p_table regclass) RETURNS bigint
LANGUAGE sql STABLE AS $$
    SELECT coalesce(sum(pg_relation_size(r)), 0)::bigint
    FROM (SELECT p_table AS r UNION ALL SELECT inhrelid::regclass FROM pg_partition_tree(p_table) t(inhrelid)
          WHERE inhrelid <> p_table) rels;
$$;

-- What is left to do, one statement per step, in order; empty when the database is distributed.
-- The first step (preflight, then the trigger, keys and legacy foreign keys) runs whenever anything is left,
-- so an operator who starts on an unprepared database is stopped there with the reason.
CREATE OR REPLACE FUNCTION todoscale_distribution_plan()
RETURNS TABLE(step int, table_name text, action text, statement text)
LANGUAGE plpgsql AS $$
DECLARE
    -- todoscale.distribute_online = off chooses the blocking copy on purpose (a maintenance window: it is
    -- much faster); unset, the copy is online whenever wal_level allows it.
    v_online  boolean := current_setting('wal_level') = 'logical'
                         AND coalesce(nullif(current_setting('todoscale.distribute_online', true), ''), 'on')::boolean;
    v_citus   boolean := EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus');
    v_table   text;
    v_steps   text[] := '{}';  -- triples: table, action, statement
BEGIN
    IF NOT v_citus OR todoscale_citus_table_type('users'::regclass) IS DISTINCT FROM 'reference' THEN
        -- create_reference_table('users') turns every table that references users into a Citus local table, which
        -- takes their ACCESS EXCLUSIVE locks after its own on users, while an application INSERT into todos_active
        -- holds that table and then checks its foreign key on users: a deadlock (seen under writers). Locking the
        -- referencing tables first, in the application's order, makes writers wait for the step instead. The step
        -- is short (it copies users only); lock_timeout bounds how long it queues the application behind a long
        -- transaction, after which it fails and the next run tries again.
        v_steps := v_steps || ARRAY['users', 'reference table (blocks writes to all five tables while it copies users)',
            'BEGIN; SET LOCAL lock_timeout = ''10s''; '
            'LOCK TABLE projects, todos_active, todos_archived, ai_todo_interactions, users IN ACCESS EXCLUSIVE MODE; '
            'SELECT create_reference_table(''users''); COMMIT'];
    END IF;
    FOREACH v_table IN ARRAY ARRAY['projects', 'todos_active', 'todos_archived', 'ai_todo_interactions'] LOOP
        CONTINUE WHEN v_citus AND todoscale_citus_table_type(v_table::regclass) = 'distributed';
        -- projects, the first, takes citus.shard_count; the others join its colocation group.
        v_steps := v_steps || ARRAY[v_table,
            CASE WHEN v_online THEN 'distribute by user_id, online (create_distributed_table_concurrently)'
                 WHEN current_setting('wal_level') = 'logical' THEN 'distribute by user_id, blocking writes to it while it copies (todoscale.distribute_online = off)'
                 ELSE 'distribute by user_id, BLOCKING writes to it while it copies (wal_level is not logical)' END,
            format('SELECT %s(%L, %L, colocate_with => %L)',
                   CASE WHEN v_online THEN 'create_distributed_table_concurrently' ELSE 'create_distributed_table' END,
                   v_table, 'user_id', CASE WHEN v_table = 'projects' THEN 'default' ELSE 'projects' END)];
    END LOOP;
    -- Last, once every table referencing users is distributed: truncating a shell cascades along foreign keys
    -- to the other shells only then (never to a Citus local table that still holds the rows).
    FOREACH v_table IN ARRAY ARRAY['projects', 'todos_active', 'todos_archived', 'ai_todo_interactions', 'users'] LOOP
        IF NOT v_citus OR todoscale_citus_table_type(v_table::regclass) IS NULL
           OR todoscale_citus_shell_bytes(v_table::regclass) > 0 THEN
            v_steps := v_steps || ARRAY[v_table, 'free the copy a blocking distribution left on the coordinator',
                                        format('SELECT truncate_local_data_after_distributing_table(%L)', v_table)];
        END IF;
    END LOOP;
    IF EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = 'todos_active'::regclass AND tgname = 'todos_active_touch_updated_at')
       OR EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = 'todos_archived'::regclass AND tgname LIKE 'todos_archived_index_%')
       OR cardinality(v_steps) > 0 THEN
        v_steps := ARRAY[NULL, 'preflight, then prepare (updated_at trigger, archive month index, projects key, legacy foreign keys)',
                         'SELECT todoscale_distribution_prepare()'] || v_steps;
    END IF;
    FOR i IN 1..cardinality(v_steps) / 3 LOOP
        step := i;
        table_name := v_steps[3 * i - 2];
        action := v_steps[3 * i - 1];
        statement := v_steps[3 * i];
        RETURN NEXT;
    END LOOP;
END;
$$;

-- create_distributed_table_concurrently() cannot run inside a transaction block: psql runs each planned
-- statement on its own (\gexec), as `todoscale db distribute` does.
-- todoscale:outside-transaction begin
SELECT statement FROM todoscale_distribution_plan() ORDER BY step \gexec
-- todoscale:outside-transaction end

RESET client_min_messages;
