-- TodoScale phase 2: move the application's live legacy `todos` table into todos_active / todos_archived.
--
-- Run with: psql -v ON_ERROR_STOP=1 -f migrations/scaling/002_migrate_existing_data.sql
--   Installs the definitions below, then (when a legacy `todos` table exists) migrates every row in
--   committed batches. Watch it from another session:  SELECT * FROM migration_progress ORDER BY start_time DESC;
--   Then check it:                                      SELECT * FROM validate_migration();
-- Our migrator (todoscale db migrate) applies the same file inside a transaction with todoscale.migrator=on:
-- it then only installs the definitions and leaves the bulk move to `todoscale migrate run`, which calls
-- the very same functions. Running the file again is a no-op once everything has moved.
--
-- Interface (the CLI and the demo call these; nothing is re-implemented in C#):
--   migration_preflight()                 what in the legacy table would not fit, and how it is handled
--   migration_start()                     preflight + archive partitions + mirror trigger (idempotent); drops the
--                                         new tables' secondary indexes (005) while they are empty
--   migration_index_plan()                the statements that build them once the backfill is complete (\gexec),
--                                         then rebuild 009's archive bookkeeping, which migration_start() paused;
--                                         `migrate run` and the end of this file run them, cutover requires them
--   migrate_todos_batch(size, max)        the next batches of a fixed size in the heap's physical order, in the caller's transaction
--   migrate_todos_configure(...)          the batch engine's knobs for a run (maintenance/engine.sql, included below)
--   migrate_todos_next()                  one engine step: health signals, a batch sized to the target duration,
--                                         split and retried after a lock timeout (the CLI calls it per transaction)
--   CALL migrate_todos(...)               every remaining batch, one COMMIT per step (the psql path)
--   migration_status()                    one row: state, rows moved, last key, rows remaining
--   validate_migration()                  one row per check: check_name, expected, actual, status PASS/FAIL
--   migration_cutover(force)              validates, then stops mirroring and makes `todos` read-only
--   migration_rollback(drop_new_tables)   makes `todos` hold exactly todos_active ∪ todos_archived
--
-- WHY NO ROW IS LOST, DUPLICATED OR RESURRECTED (the invariant every piece below keeps):
--   For every legacy id, the new tables hold either nothing, or exactly one copy equal to the row's
--   latest committed legacy version, placed by the rule below. "Nothing" is allowed only for rows the
--   backfill has not reached yet (at or after migration_state.backfill_ctid, its cursor in todos' heap)
--   that no write has touched since the mirror trigger exists; once the cursor passes the last page,
--   every legacy row has its copy. The backfill walks the heap in physical order (TID range scans, read
--   sequentially like one INSERT … SELECT; in key order each batch read its rows from random pages three
--   times: offline on 200,000 rows 0.45x the single statement's rate, 0.7-0.8x now). A row keeps its
--   position until a write moves it, and that
--   write fired the trigger; a rewrite that moves rows without writes (VACUUM FULL, CLUSTER, pg_repack)
--   gives todos a new file, and the cursor starts again at page 0 (backfill_filenode).
--   * The mirror trigger (AFTER INSERT/UPDATE/DELETE FOR EACH ROW on todos) runs in the writer's own
--     transaction: the copy changes exactly when the legacy row does, and rolls back with it. It deletes
--     the copy of OLD (which by the invariant equals OLD) and inserts NEW. CREATE TRIGGER waits for the
--     writers in flight (SHARE ROW EXCLUSIVE lock), so no write escapes both the trigger and the backfill.
--   * A backfill batch runs in one transaction: (1) it locks the next N legacy rows after the cursor FOR SHARE.
--     A writer holding one of them makes the batch wait until it commits (its trigger has then fixed the
--     copy); a writer arriving later waits for the batch to commit (its trigger then replaces the batch's
--     copy). A row deleted before the lock is simply not returned, so the batch cannot resurrect it.
--     A row updated after the batch read its position is either locked in its newest version or not
--     returned (PostgreSQL 15 releases differ on whether the lock's recheck applies the position range:
--     15.18 drops a version that moved out of it); either way the update was written after the trigger,
--     which copied it, and a row not returned ends the batch before it. (2) In a NEW statement (READ COMMITTED: a fresh snapshot
--     that sees every write committed before the lock) it inserts copies of the versions it locked, read
--     by their positions; a copy the trigger already made is this same version (the invariant) and is kept
--     (ON CONFLICT DO NOTHING on its primary key). (3) It records its cursor, last key and row count in
--     migration_state/migration_progress in the same transaction: a batch that
--     dies (connection killed, deadlock) leaves neither copies nor progress, and the next run redoes it.
--   * Inserts and updated versions behind the cursor are copied by the trigger; ahead of it by the trigger
--     too, and the batch that reaches them finds that copy and keeps it.
--   * Deletes cascading from a parent todo or from a user fire the trigger like any other delete.
--   * Batches serialise on the migration_state row, so two migrators cannot copy the same batch twice.
--   * Outside the guarantee: writes that bypass row triggers (TRUNCATE, session_replication_role = replica,
--     ALTER TABLE todos DISABLE TRIGGER). validate_migration() reports them (counts, ids, checksum), and
--     migration_cutover() refuses while any check fails.
--   * A legacy write the new tables cannot hold (a NULL title once the NOT NULL was dropped, an unknown
--     status) fails in the writer's transaction instead of being lost silently: keep the legacy table's
--     NOT NULL constraints in place while migrating.
-- Placement rule: status 'done' AND completed_at < archive_cutoff -> todos_archived, every other row
-- (including 'done' rows without completed_at) -> todos_active. archive_cutoff is now() - 30 days taken
-- once when the migration starts: trigger and batches must agree on where a row lives, and a cutoff that
-- moved while the migration runs would strand rows in the wrong table. Later archiving is maintenance's job.

SET lock_timeout = '5s';
SET client_min_messages = warning;

-- ---------------------------------------------------------------------------------------------
-- Bookkeeping
-- ---------------------------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS migration_progress (
    id         bigserial   PRIMARY KEY,
    step       text        NOT NULL,              -- start | batch | complete | cutover | rollback
    start_time timestamptz NOT NULL DEFAULT clock_timestamp(),
    end_time   timestamptz,
    rows_moved bigint      NOT NULL DEFAULT 0,
    last_key   uuid,
    status     text        NOT NULL,              -- done | completed | ...
    detail     text
);
CREATE INDEX IF NOT EXISTS idx_migration_progress_start_time ON migration_progress (start_time DESC);

-- One row: where the migration stands. Batches lock it, which serialises concurrent migrators.
CREATE TABLE IF NOT EXISTS migration_state (
    singleton      boolean     PRIMARY KEY DEFAULT true CHECK (singleton),
    state          text        NOT NULL DEFAULT 'not_started'
                   CHECK (state IN ('not_started', 'migrating', 'migrated', 'cut_over', 'rolled_back')),
    archive_cutoff timestamptz,
    last_key       uuid,
    rows_moved     bigint      NOT NULL DEFAULT 0,
    batches        bigint      NOT NULL DEFAULT 0,
    started_at     timestamptz,
    last_batch_at  timestamptz,
    completed_at   timestamptz,
    cutover_at     timestamptz,
    rolled_back_at timestamptz,
    backfill_ctid     tid,   -- the backfill's cursor: the first position in todos' heap it has not passed
    backfill_end_page bigint, -- todos' pages when the mirror trigger came: every later page was written after it
    backfill_filenode oid    -- todos' file when the cursor was set; a rewrite moves rows and restarts it
);
-- Installs from before the backfill walked the heap in physical order.
ALTER TABLE migration_state ADD COLUMN IF NOT EXISTS backfill_ctid tid;
ALTER TABLE migration_state ADD COLUMN IF NOT EXISTS backfill_end_page bigint;
ALTER TABLE migration_state ADD COLUMN IF NOT EXISTS backfill_filenode oid;
-- The secondary indexes migration_start() dropped from the empty new tables, to build after the backfill.
ALTER TABLE migration_state ADD COLUMN IF NOT EXISTS deferred_indexes text[];
-- Where the rebuild of 009's archive bookkeeping stands (todoscale_archive_bookkeeping_plan): 'rebuild' from the pause
-- (migration_start) or a resume until the entries of rows changed meanwhile are forgotten, 'catch_up' until every
-- partition is caught up and 009 marked its recent rows ready, NULL when nothing is left. 002's own: 009 applied again
-- meanwhile marks its recent rows ready by its own backfill, which knows nothing of what changed while paused.
ALTER TABLE migration_state ADD COLUMN IF NOT EXISTS archive_bookkeeping text CHECK (archive_bookkeeping IN ('rebuild', 'catch_up'));
-- When migration_index_plan()'s ANALYZE last finished. Kept here, not read from pg_stat_user_tables.last_analyze: that
-- forgets with pg_stat_reset(), stays NULL with track_counts off, and says nothing of the other tables the statement
-- lists, so a plan that asked for statistics again and again would never end.
ALTER TABLE migration_state ADD COLUMN IF NOT EXISTS analyzed_at timestamptz;
INSERT INTO migration_state (singleton) VALUES (true) ON CONFLICT DO NOTHING;
-- The archive partitions caught up since the entries of changed rows were forgotten (emptied by that step).
CREATE TABLE IF NOT EXISTS migration_archive_caught_up (
    partition_name text        PRIMARY KEY,
    caught_up_at   timestamptz NOT NULL DEFAULT now()
);

-- The batch engine that sizes, splits and pauses the backfill (also 003's archival backlog).
\ir maintenance/engine.sql

-- ---------------------------------------------------------------------------------------------
-- Mirror trigger function (the trigger itself is created by migration_start, not by this script:
-- installing the schema must not slow the application's writes before anyone decided to migrate).
-- TG_ARGV[0] is the archive cutoff, fixed for the whole migration.
-- ---------------------------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION todoscale_mirror_todo() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    v_cutoff timestamptz := TG_ARGV[0]::timestamptz;
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        -- The copy of OLD, if any, sits where the placement rule put OLD.
        IF OLD.status = 'done' AND OLD.completed_at < v_cutoff THEN
            DELETE FROM todos_archived WHERE id = OLD.id AND completed_at = OLD.completed_at;
        ELSE
            DELETE FROM todos_active WHERE user_id = OLD.user_id AND id = OLD.id;
        END IF;
    END IF;

    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        IF NEW.status = 'done' AND NEW.completed_at < v_cutoff THEN
            INSERT INTO todos_archived (id, user_id, parent_todo_id, project_id, title, description, status,
                                        priority, due_date, completed_at, ai_generated, created_at, updated_at)
            VALUES (NEW.id, NEW.user_id, NEW.parent_todo_id, NEW.project_id, NEW.title, NEW.description, NEW.status,
                    NEW.priority, NEW.due_date, NEW.completed_at, NEW.ai_generated, NEW.created_at, NEW.updated_at);
        ELSE
            INSERT INTO todos_active (id, user_id, parent_todo_id, project_id, title, description, status,
                                      priority, due_date, completed_at, ai_generated, created_at, updated_at)
            VALUES (NEW.id, NEW.user_id, NEW.parent_todo_id, NEW.project_id, NEW.title, NEW.description, NEW.status,
                    NEW.priority, NEW.due_date, NEW.completed_at, NEW.ai_generated, NEW.created_at, NEW.updated_at);
        END IF;
    END IF;
    RETURN NULL;
END;
$$;

-- After cutover the application writes to the new tables; a forgotten legacy writer would otherwise
-- write rows nobody ever sees again. Deletes cascading from users (trigger depth > 1) stay allowed so
-- that deleting a user keeps working.
CREATE OR REPLACE FUNCTION todoscale_reject_legacy_write() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF pg_trigger_depth() = 1 THEN
        RAISE EXCEPTION 'todos is read-only since the cutover to todos_active/todos_archived'
            USING ERRCODE = 'read_only_sql_transaction',
                  HINT = 'Write to todos_active/todos_archived, or run `todoscale migrate rollback` first.';
    END IF;
    RETURN NULL;
END;
$$;

-- DROP TRIGGER IF EXISTS without its "does not exist, skipping" notice in operators' psql output.
CREATE OR REPLACE FUNCTION todoscale_drop_todos_trigger(p_name text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = 'todos'::regclass AND tgname = p_name) THEN
        EXECUTE format('DROP TRIGGER %I ON todos', p_name);
    END IF;
END;
$$;

-- ---------------------------------------------------------------------------------------------
-- Preflight: what would not fit, and what happens to it. severity: ok | info | blocking.
-- ---------------------------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION migration_preflight()
RETURNS TABLE (check_name text, severity text, affected_rows bigint, handling text)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    s record;
    v_unknown text;
    v_state text;
    v_new bigint;
BEGIN
    -- On a Citus database the checks below are joins of the legacy (local) table with tables that are or
    -- will be distributed, which Citus refuses, and the mirror trigger would write across shards from a
    -- local trigger. The migration is made for one node; Citus comes after it. Returned first and alone,
    -- so migration_start() refuses before anything is created.
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus') THEN
        RETURN QUERY SELECT 'citus_coordinator'::text, 'blocking'::text, 0::bigint,
            'this database has the Citus extension: migrate the legacy todos table on one PostgreSQL node first '
            '(todoscale migrate run, validate, cutover, on the database before CREATE EXTENSION citus), then distribute it '
            '(todoscale db distribute, or psql -f migrations/citus/distribute.sql)'::text;
        RETURN;
    END IF;
    IF to_regclass('todos') IS NULL THEN
        RETURN QUERY SELECT 'legacy_table'::text, 'blocking'::text, 0::bigint,
            'there is no legacy todos table in this database: nothing to migrate'::text;
        RETURN;
    END IF;

    SELECT
        count(*) FILTER (WHERE t.status IS NULL OR t.status NOT IN ('todo', 'in_progress', 'done', 'cancelled')) AS unknown_status,
        count(*) FILTER (WHERE t.user_id IS NULL)      AS null_user_id,
        count(*) FILTER (WHERE t.title IS NULL)        AS null_title,
        count(*) FILTER (WHERE t.priority IS NULL)     AS null_priority,
        count(*) FILTER (WHERE t.created_at IS NULL)   AS null_created_at,
        count(*) FILTER (WHERE t.updated_at IS NULL)   AS null_updated_at,
        count(*) FILTER (WHERE t.ai_generated IS NULL) AS null_ai_generated,
        count(*) FILTER (WHERE t.status = 'done' AND t.completed_at IS NULL) AS done_without_completed_at,
        count(*) FILTER (WHERE t.status <> 'done' AND t.completed_at IS NOT NULL) AS completed_at_not_done,
        count(*) AS total
    INTO s FROM todos t;

    SELECT string_agg(DISTINCT coalesce(quote_literal(t.status), 'NULL'), ', ') INTO v_unknown
    FROM (SELECT t2.status FROM todos t2
          WHERE t2.status IS NULL OR t2.status NOT IN ('todo', 'in_progress', 'done', 'cancelled') LIMIT 1000) t;

    RETURN QUERY SELECT 'unknown_status_values', CASE WHEN s.unknown_status > 0 THEN 'blocking' ELSE 'ok' END,
        s.unknown_status,
        CASE WHEN s.unknown_status > 0
             THEN format('status values outside todo|in_progress|done|cancelled (%s) do not fit the new CHECK constraint: fix them in todos first', v_unknown)
             ELSE 'every status is one of todo|in_progress|done|cancelled' END;

    RETURN QUERY SELECT 'null_' || c.col, CASE WHEN c.n > 0 THEN 'blocking' ELSE 'ok' END, c.n,
        CASE WHEN c.n > 0 THEN format('todos.%s is NULL in %s row(s); the new tables require a value: fill them in todos first', c.col, c.n)
             ELSE format('todos.%s is never NULL', c.col) END
    FROM (VALUES ('user_id', s.null_user_id), ('title', s.null_title), ('priority', s.null_priority),
                 ('created_at', s.null_created_at), ('updated_at', s.null_updated_at),
                 ('ai_generated', s.null_ai_generated)) AS c(col, n);

    RETURN QUERY SELECT 'done_without_completed_at', CASE WHEN s.done_without_completed_at > 0 THEN 'info' ELSE 'ok' END,
        s.done_without_completed_at,
        'done rows without completed_at cannot be placed by completion month: they move to todos_active unchanged'::text;

    RETURN QUERY SELECT 'completed_at_on_unfinished_rows', CASE WHEN s.completed_at_not_done > 0 THEN 'info' ELSE 'ok' END,
        s.completed_at_not_done,
        'rows that are not done keep their completed_at and move to todos_active unchanged'::text;

    RETURN QUERY SELECT 'user_without_user_row', CASE WHEN count(*) > 0 THEN 'blocking' ELSE 'ok' END, count(*),
        CASE WHEN count(*) > 0
             THEN 'todos whose user_id has no row in users would violate the new tables'' foreign key to users: delete them or create the users first'
             ELSE 'every user_id has a user' END
    FROM todos t WHERE t.user_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM users u WHERE u.id = t.user_id);

    RETURN QUERY SELECT 'project_without_project_row', CASE WHEN count(*) > 0 THEN 'info' ELSE 'ok' END, count(*),
        'project_id values with no project are copied unchanged (the new tables do not reference projects)'::text
    FROM todos t WHERE t.project_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM projects p WHERE p.id = t.project_id);

    RETURN QUERY SELECT 'parent_without_parent_row', CASE WHEN count(*) > 0 THEN 'info' ELSE 'ok' END, count(*),
        'parent_todo_id values that point to no todo are copied unchanged'::text
    FROM todos t WHERE t.parent_todo_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM todos p WHERE p.id = t.parent_todo_id);

    -- A self-referencing foreign key without an index on its column makes every DELETE on todos scan the whole
    -- table for rows to cascade to. The application pays that on each delete, and while the migration copies,
    -- those scans compete with it for the same CPU and I/O (measured: the copy under writers fell to 0.17-0.30 of
    -- its offline rate). The index is the operator's change to make, so this only advises it.
    RETURN QUERY SELECT 'unindexed_foreign_key_' || a.attname,
        CASE WHEN ix.indexrelid IS NULL THEN 'info' ELSE 'ok' END, 0::bigint,
        CASE WHEN ix.indexrelid IS NULL
             THEN format('todos.%1$s references %2$s without an index: every delete there scans the whole referencing table, also during the copy; '
                         'before migrating, consider CREATE INDEX CONCURRENTLY todos_%1$s_idx ON todos (%1$s)', a.attname, c.confrelid::regclass)
             ELSE format('todos.%s has an index (%s)', a.attname, ix.indexrelid::regclass) END
    FROM pg_constraint c
    JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
    LEFT JOIN LATERAL (SELECT i.indexrelid FROM pg_index i
                       WHERE i.indrelid = c.conrelid AND i.indkey[0] = c.conkey[1] LIMIT 1) ix ON true
    WHERE c.conrelid = 'todos'::regclass AND c.contype = 'f' AND c.confrelid = 'todos'::regclass
      AND cardinality(c.conkey) = 1;

    SELECT m.state INTO v_state FROM migration_state m;
    IF v_state IN ('not_started', 'rolled_back') THEN
        SELECT (SELECT count(*) FROM todos_active) + (SELECT count(*) FROM todos_archived) INTO v_new;
        RETURN QUERY SELECT 'new_tables_empty', CASE WHEN v_new > 0 THEN 'blocking' ELSE 'ok' END, v_new,
            CASE WHEN v_new > 0
                 THEN 'todos_active/todos_archived already hold rows that this migration did not copy; empty them (TRUNCATE todos_active, todos_archived) before migrating'
                 ELSE 'todos_active and todos_archived are empty' END;
    END IF;

    RETURN QUERY SELECT 'rows_to_migrate', 'ok'::text, s.total,
        format('%s legacy rows; done rows completed more than 30 days ago go to todos_archived, all others to todos_active', s.total);
END;
$$;

-- ---------------------------------------------------------------------------------------------
-- Secondary indexes of the tables the migration fills that it defers: those of 005 (todoscale_index_definitions) on
-- todos_active and todos_archived but the one a foreign key's cascade needs. Empty when 005 is not installed: the operator's order applies it after
-- this file, so its build then comes after the data anyway.
-- ---------------------------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION todoscale_migration_secondary_indexes()
RETURNS TABLE (index_name text, parent_table text, definition text)
LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF to_regproc('todoscale_index_definitions') IS NULL THEN
        RETURN;
    END IF;
    -- Kept: idx_todos_archived_user_completed is how a user's delete finds the rows its ON DELETE CASCADE
    -- (todos_archived_user_fk) removes from todos_archived, whose primary key does not lead with user_id; without it
    -- every legacy DELETE FROM users would read the whole archive. todos_active's primary key leads with user_id.
    RETURN QUERY EXECUTE $q$
        SELECT d.index_name, d.parent_table, d.definition FROM todoscale_index_definitions() d
        WHERE d.parent_table IN ('todos_active', 'todos_archived') AND d.index_name <> 'idx_todos_archived_user_completed'
        ORDER BY d.ord $q$;
END;
$$;

-- ---------------------------------------------------------------------------------------------
-- 009's bookkeeping of the archive (todos_archived_months, todos_archived_locator, todos_archived_recent and its
-- floors), kept by statement triggers on todos_archived, is paused while the backfill fills the archive and rebuilt
-- after it, like the secondary indexes. Offline on 1M legacy rows a 5,000-row batch took a median 231 ms with the
-- insert trigger and 151 ms without it: the backfill walks the heap roughly in creation order, so every batch added
-- newer rows to the recent rows of about every user and trimmed older ones again, once per batch instead of once.
-- Those rows (a user's month count, floor, recent rows) were also what mirrored application writes waited on behind a
-- batch. The application does not read them before cutover; migration_index_plan() rebuilds them after the indexes
-- (todoscale_archive_bookkeeping_plan: the bulk while the triggers are paused, the resume, then what changed in
-- between), and cutover refuses until todoscale_archive_bookkeeping_complete(). 009's own backfill
-- (todoscale_archive_index_plan) is not used: it runs beside the triggers and holds a whole partition's month counts,
-- users' recent-row floors and archived rows (FOR SHARE) per statement, and mirrored writes waited on those for up to
-- 1.2 s (16 s once) in the bench of 2026-12-04 18:39; the catch-up after the resume locks only the rows whose entries
-- are missing. On Citus, or before 009, there is nothing to pause.
-- Dynamic SQL throughout: 009 is installed after this script.
-- ---------------------------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION todoscale_archive_bookkeeping_triggers() RETURNS text[]
LANGUAGE sql IMMUTABLE AS $$ SELECT ARRAY['todos_archived_index_insert', 'todos_archived_index_update', 'todos_archived_index_delete'] $$;

CREATE OR REPLACE FUNCTION todoscale_archive_bookkeeping_paused() RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT EXISTS (SELECT 1 FROM pg_trigger t WHERE t.tgrelid = to_regclass('todos_archived') AND t.tgenabled = 'D'
                   AND t.tgname = ANY (todoscale_archive_bookkeeping_triggers()))
$$;

-- migration_start(), on the empty archive: no trigger fires before the mirror trigger exists, so this waits for no one.
CREATE OR REPLACE FUNCTION todoscale_archive_bookkeeping_pause() RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    v_trigger text;
    v_paused  boolean := false;
BEGIN
    IF to_regproc('todoscale_archive_index_maintained') IS NULL THEN
        RETURN false;
    END IF;
    FOR v_trigger IN
        SELECT t.tgname FROM pg_trigger t WHERE t.tgrelid = 'todos_archived'::regclass AND t.tgenabled <> 'D'
          AND t.tgname = ANY (todoscale_archive_bookkeeping_triggers()) ORDER BY t.tgname
    LOOP
        EXECUTE format('ALTER TABLE todos_archived DISABLE TRIGGER %I', v_trigger);
        v_paused := true;
    END LOOP;
    IF v_paused THEN
        -- 009's backfill redoes every partition once the archive is filled, and the page does not trust the recent
        -- rows before that (it reads the months meanwhile).
        EXECUTE 'TRUNCATE todoscale_archive_index_backfilled, todoscale_archive_recent_backfilled';
        EXECUTE 'UPDATE todoscale_archive_recent_state SET ready = false';
    END IF;
    RETURN v_paused;
END;
$$;

-- The first step after the backfill (and part of a rollback). ENABLE TRIGGER takes SHARE ROW EXCLUSIVE on
-- todos_archived, which mirrored writes wait for: under the migration's lock timeout, retried (005's helper).
CREATE OR REPLACE FUNCTION todoscale_archive_bookkeeping_resume() RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    v_trigger text;
    v_resumed boolean := false;
BEGIN
    FOR v_trigger IN
        SELECT t.tgname FROM pg_trigger t WHERE t.tgrelid = to_regclass('todos_archived') AND t.tgenabled = 'D'
          AND t.tgname = ANY (todoscale_archive_bookkeeping_triggers()) ORDER BY t.tgname
    LOOP
        PERFORM todoscale_archive_bookkeeping_bounded(format('ALTER TABLE todos_archived ENABLE TRIGGER %I', v_trigger));
        v_resumed := true;
    END LOOP;
    IF v_resumed THEN
        -- What the paused triggers missed is repaired from here (forget_changed, then every partition's catch-up), and
        -- the page does not trust the recent rows before that.
        EXECUTE 'UPDATE todoscale_archive_recent_state SET ready = false';
        UPDATE migration_state SET archive_bookkeeping = 'rebuild';
    END IF;
    RETURN v_resumed;
END;
$$;

-- A statement of the rebuild that may wait on a lock a mirrored write holds (or needs): under the migration's lock
-- timeout and retried with 005's helper, so no write waits on it longer than that bound plus the statement itself.
CREATE OR REPLACE FUNCTION todoscale_archive_bookkeeping_bounded(p_statement text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF to_regprocedure('todoscale_execute_with_lock_retries(text, integer, text)') IS NOT NULL THEN
        EXECUTE 'SELECT todoscale_execute_with_lock_retries($1, 20, $2)' USING p_statement, todoscale_migration_lock_timeout();
    ELSE
        PERFORM set_config('lock_timeout', todoscale_migration_lock_timeout(), true);
        EXECUTE p_statement;
    END IF;
END;
$$;

-- The first partition of todos_archived that holds rows and is not listed in p_marks (a table of partition_name): what
-- the cutover condition asks of 009's marks, and the rebuild's last step of its own (migration_archive_caught_up).
CREATE OR REPLACE FUNCTION todoscale_archive_unmarked_partition(p_marks regclass) RETURNS regclass
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_part regclass;
    v_rows boolean;
BEGIN
    FOR v_part IN
        SELECT c.oid::regclass FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'todos_archived'::regclass ORDER BY c.relname
    LOOP
        EXECUTE format('SELECT NOT EXISTS (SELECT 1 FROM %s b WHERE b.partition_name = $1)', p_marks) INTO v_rows USING v_part::text;
        IF v_rows THEN
            EXECUTE format('SELECT EXISTS (SELECT 1 FROM %s)', v_part) INTO v_rows;
            IF v_rows THEN
                RETURN v_part;
            END IF;
        END IF;
    END LOOP;
    RETURN NULL;
END;
$$;

-- Cutover's condition: the triggers run again, the rebuild after them is done (migration_state.archive_bookkeeping), and
-- 009's own backfill has recorded every partition that holds rows and marked the recent rows ready. Both: 009 applied
-- again mid-rebuild sets its marks without the repair of what changed while paused, and 009 installed after the
-- migration started (nothing paused, nothing to rebuild) records the archive only by its own backfill.
CREATE OR REPLACE FUNCTION todoscale_archive_bookkeeping_complete() RETURNS boolean
LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF todoscale_archive_bookkeeping_paused() OR (SELECT m.archive_bookkeeping IS NOT NULL FROM migration_state m) THEN
        RETURN false;
    END IF;
    IF to_regproc('todoscale_archive_index_maintained') IS NULL OR to_regproc('todoscale_archive_recent_ready') IS NULL THEN
        RETURN true;
    END IF;
    IF NOT todoscale_archive_index_maintained() THEN
        RETURN true;  -- Citus: no bookkeeping tables
    END IF;
    RETURN todoscale_archive_recent_ready()
       AND todoscale_archive_unmarked_partition(to_regclass('todoscale_archive_index_backfilled')) IS NULL;
END;
$$;

-- The bulk, per partition, while the triggers are paused: no mirrored write touches these tables then, so nothing
-- waits on the rows this writes, and it reads the partition without FOR SHARE (009's own backfill locks the rows it
-- copies, which made mirrored deletes of archived rows wait for a whole partition's statement). What changes after
-- its read is repaired after the resume (forget_changed, catch_up). The months and the locator are 009's own backfill of
-- the partition (it locks no archived row and marks the partition); only its recent rows differ from 009's, which
-- are read FOR SHARE.
CREATE OR REPLACE FUNCTION todoscale_archive_bookkeeping_bulk(p_partition regclass) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    v_rows bigint;
BEGIN
    EXECUTE 'SELECT todoscale_archive_index_backfill($1)' INTO v_rows USING p_partition;
    EXECUTE todoscale_archived_recent_add_sql(p_partition::text, false);
    EXECUTE format('SELECT todoscale_archived_recent_trim(ARRAY(SELECT DISTINCT user_id FROM %s))', p_partition);
    RETURN v_rows;
END;
$$;

-- The first step after the resume (which waited for every write that archived without the triggers): removes the
-- entries of rows deleted, moved or edited after the bulk read them. It finds them first, reading the whole archive
-- without locking a row, and only then deletes those entries by key, each checked again: a DELETE locks what it
-- removes until the statement commits, and a mirrored write of the same todo waits for that. One DELETE over the whole
-- archive held them for all of its scan: 790 ms at 230k archived rows, a writer waited 140-313 ms on it (a review of
-- 2026-12-04), more than the migration's 200 ms bound, and it grows with the archive. The deletes by key still scan
-- the bookkeeping table to join the keys, but no entry is locked before they start. An entry it removes wrongly (a
-- trigger rewrote it during this statement, and the rewrite is checked against an older view of the archive) is added
-- again by the catch-up of its partition, which always follows: this step empties the list of partitions caught up.
CREATE OR REPLACE FUNCTION todoscale_archive_bookkeeping_forget_changed() RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    v_locator_users uuid[];
    v_locator_ids   uuid[];
    v_recent_users  uuid[];
    v_recent_ids    uuid[];
    v_rows          bigint;
    v_n             bigint;
BEGIN
    SELECT coalesce(array_agg(l.user_id), '{}'), coalesce(array_agg(l.id), '{}') INTO v_locator_users, v_locator_ids
    FROM todos_archived_locator l
    WHERE NOT EXISTS (SELECT 1 FROM todos_archived a WHERE a.id = l.id AND a.completed_at = l.completed_at AND a.user_id = l.user_id);
    -- The whole row: the mirror writes an edit of an archived todo as a delete and an insert of the same key, and a
    -- recent row is what the archive page shows.
    SELECT coalesce(array_agg(r.user_id), '{}'), coalesce(array_agg(r.id), '{}') INTO v_recent_users, v_recent_ids
    FROM todos_archived_recent r
    WHERE NOT EXISTS (
        SELECT 1 FROM todos_archived a
        WHERE a.id = r.id AND a.completed_at = r.completed_at AND a.user_id = r.user_id
          AND (a.parent_todo_id, a.project_id, a.title, a.description, a.status, a.priority, a.due_date, a.ai_generated,
               a.created_at, a.updated_at, a.archived_at)
              IS NOT DISTINCT FROM
              (r.parent_todo_id, r.project_id, r.title, r.description, r.status, r.priority, r.due_date, r.ai_generated,
               r.created_at, r.updated_at, r.archived_at));

    -- Each statement of a function sees what committed before it: a key a trigger wrote again since the read is kept.
    DELETE FROM todos_archived_locator l
    USING unnest(v_locator_users, v_locator_ids) k(user_id, id)
    WHERE l.user_id = k.user_id AND l.id = k.id
      AND NOT EXISTS (SELECT 1 FROM todos_archived a WHERE a.id = l.id AND a.completed_at = l.completed_at AND a.user_id = l.user_id);
    GET DIAGNOSTICS v_rows = ROW_COUNT;
    DELETE FROM todos_archived_recent r
    USING unnest(v_recent_users, v_recent_ids) k(user_id, id)
    WHERE r.user_id = k.user_id AND r.id = k.id
      AND NOT EXISTS (
        SELECT 1 FROM todos_archived a
        WHERE a.id = r.id AND a.completed_at = r.completed_at AND a.user_id = r.user_id
          AND (a.parent_todo_id, a.project_id, a.title, a.description, a.status, a.priority, a.due_date, a.ai_generated,
               a.created_at, a.updated_at, a.archived_at)
              IS NOT DISTINCT FROM
              (r.parent_todo_id, r.project_id, r.title, r.description, r.status, r.priority, r.due_date, r.ai_generated,
               r.created_at, r.updated_at, r.archived_at));
    GET DIAGNOSTICS v_n = ROW_COUNT;
    DELETE FROM migration_archive_caught_up;
    UPDATE migration_state SET archive_bookkeeping = 'catch_up' WHERE archive_bookkeeping = 'rebuild';
    RETURN v_rows + v_n;
END;
$$;

-- Per partition, after forget_changed: the entries its rows lack (rows archived after the bulk read, and those whose
-- entries forget_changed removed), and only those. FOR SHARE OF the rows it records, as 009's backfill does: a row a
-- concurrent transaction deletes (a reopen) is skipped once that commits instead of recorded after its delete trigger
-- ran, which showed a reopened todo in the archive; it locks only the rows it records (the probes leave out the rest).
-- ON CONFLICT DO NOTHING: an entry a trigger wrote meanwhile is newer than this read. Month counts are hints (009):
-- a missing month would hide a user's rows from the page, so it is added, and no count is raised.
CREATE OR REPLACE FUNCTION todoscale_archive_bookkeeping_catch_up(p_partition regclass) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    v_rows  bigint;
    v_users uuid[];
BEGIN
    EXECUTE format($q$
        INSERT INTO todos_archived_months (user_id, month, rows)
        SELECT a.user_id, a.month, a.rows
        FROM (SELECT user_id, todoscale_month_start(completed_at) AS month, count(*) AS rows FROM %s GROUP BY 1, 2) a
        WHERE NOT EXISTS (SELECT 1 FROM todos_archived_months m WHERE m.user_id = a.user_id AND m.month = a.month)
        ON CONFLICT (user_id, month) DO NOTHING$q$, p_partition);
    EXECUTE format($q$
        INSERT INTO todos_archived_locator (user_id, id, completed_at)
        SELECT n.user_id, n.id, n.completed_at FROM %s n
        WHERE NOT EXISTS (SELECT 1 FROM todos_archived_locator l WHERE l.user_id = n.user_id AND l.id = n.id)
        FOR SHARE OF n
        ON CONFLICT (user_id, id) DO NOTHING$q$, p_partition);
    GET DIAGNOSTICS v_rows = ROW_COUNT;
    -- Recent rows above their user's floor that are missing, then the trim of those users only.
    EXECUTE format($q$
        WITH added AS (
            INSERT INTO todos_archived_recent (id, user_id, parent_todo_id, project_id, title, description, status, priority,
                                               due_date, completed_at, ai_generated, created_at, updated_at, archived_at)
            SELECT n.id, n.user_id, n.parent_todo_id, n.project_id, n.title, n.description, n.status, n.priority,
                   n.due_date, n.completed_at, n.ai_generated, n.created_at, n.updated_at, n.archived_at
            FROM %s n LEFT JOIN todos_archived_recent_floor f ON f.user_id = n.user_id
            WHERE (f.user_id IS NULL OR (n.completed_at, n.id) >= (f.completed_at, f.id))
              AND NOT EXISTS (SELECT 1 FROM todos_archived_recent r WHERE r.user_id = n.user_id AND r.id = n.id)
            FOR SHARE OF n
            ON CONFLICT (user_id, id) DO NOTHING
            RETURNING user_id)
        SELECT coalesce(array_agg(DISTINCT user_id), '{}') FROM added$q$, p_partition) INTO v_users;
    IF cardinality(v_users) > 0 THEN
        PERFORM todoscale_archived_recent_trim(v_users);
    END IF;
    -- 009's marks too: its mark_ready asks for them, and its own plan then has nothing to redo here.
    INSERT INTO todoscale_archive_index_backfilled (partition_name) VALUES (p_partition::text)
    ON CONFLICT (partition_name) DO UPDATE SET recorded_at = now();
    INSERT INTO todoscale_archive_recent_backfilled (partition_name) VALUES (p_partition::text)
    ON CONFLICT (partition_name) DO UPDATE SET recorded_at = now();
    INSERT INTO migration_archive_caught_up (partition_name) VALUES (p_partition::text)
    ON CONFLICT (partition_name) DO UPDATE SET caught_up_at = now();
    RETURN v_rows;
END;
$$;

-- The last step: once every partition that holds rows is caught up (one created since is not: the next plan catches it
-- up), 009's step that lets the page read the recent rows, and the rebuild is done.
CREATE OR REPLACE FUNCTION todoscale_archive_bookkeeping_finish() RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    v_part  regclass;
    v_ready boolean;
BEGIN
    IF (SELECT m.archive_bookkeeping FROM migration_state m) IS DISTINCT FROM 'catch_up' THEN
        RETURN false;
    END IF;
    v_part := todoscale_archive_unmarked_partition('migration_archive_caught_up'::regclass);
    IF v_part IS NOT NULL THEN
        RAISE NOTICE 'the archive''s bookkeeping is not complete: % was not caught up (plan again: migration_index_plan())', v_part;
        RETURN false;
    END IF;
    EXECUTE 'SELECT todoscale_archive_recent_mark_ready()' INTO v_ready;
    IF v_ready THEN
        UPDATE migration_state SET archive_bookkeeping = NULL;
    END IF;
    RETURN v_ready;
END;
$$;

-- The statements that complete the bookkeeping (after 005's index steps in migration_index_plan()): while paused, the
-- bulk of every partition not recorded yet, then the resume; once resumed, the entries of changed rows forgotten, the
-- catch-up of every partition (of those not caught up yet, after a run that stopped halfway), and the last step.
CREATE OR REPLACE FUNCTION todoscale_archive_bookkeeping_plan() RETURNS TABLE (step integer, stmt text)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_step text;
BEGIN
    IF todoscale_archive_bookkeeping_paused() THEN
        RETURN QUERY EXECUTE $q$
            -- Newest month first: most rows of older months then fall below the floors the newer ones set (009).
            SELECT (row_number() OVER (ORDER BY c.relname DESC))::int, format('SELECT todoscale_archive_bookkeeping_bulk(%L::regclass)', c.oid::regclass::text)
            FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
            WHERE i.inhparent = 'todos_archived'::regclass
              AND NOT EXISTS (SELECT 1 FROM todoscale_archive_index_backfilled b WHERE b.partition_name = c.oid::regclass::text)$q$;
        RETURN QUERY SELECT 100000, 'SELECT todoscale_archive_bookkeeping_resume()'::text;
        RETURN;
    END IF;
    v_step := (SELECT m.archive_bookkeeping FROM migration_state m);
    IF to_regproc('todoscale_archive_index_maintained') IS NULL THEN
        RETURN;
    ELSIF v_step IS NULL THEN
        -- Nothing of 002's to rebuild, but 009's own backfill not done (009 installed after the migration started, its
        -- backfill interrupted, or a partition filled since without it): 009's plan, which marks what it records.
        IF NOT todoscale_archive_bookkeeping_complete() THEN
            RETURN QUERY EXECUTE 'SELECT 400000 + p.step, p.stmt FROM todoscale_archive_index_plan() p';
        END IF;
        RETURN;
    END IF;
    -- Stale entries first: a row moved to another month meanwhile has a locator entry for its old place, which would
    -- keep the catch-up from adding the new one.
    IF v_step = 'rebuild' THEN
        RETURN QUERY SELECT 200000, 'SELECT todoscale_archive_bookkeeping_bounded(''SELECT todoscale_archive_bookkeeping_forget_changed()'')'::text;
    END IF;
    RETURN QUERY
        SELECT 200000 + (row_number() OVER (ORDER BY c.relname DESC))::int,
               format('SELECT todoscale_archive_bookkeeping_bounded(%L)',
                      format('SELECT todoscale_archive_bookkeeping_catch_up(%L::regclass)', c.oid::regclass::text))
        FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'todos_archived'::regclass
          AND (v_step = 'rebuild'
               OR NOT EXISTS (SELECT 1 FROM migration_archive_caught_up u WHERE u.partition_name = c.oid::regclass::text));
    RETURN QUERY SELECT 300000, 'SELECT todoscale_archive_bookkeeping_finish()'::text;
END;
$$;

-- A migration an earlier 002 started paused the triggers without recording it in archive_bookkeeping: its rebuild is
-- not done while the triggers are paused or 009's recent rows are not ready.
DO $$
BEGIN
    IF to_regclass('todoscale_archive_recent_state') IS NOT NULL AND to_regproc('todoscale_archive_recent_ready') IS NOT NULL THEN
        UPDATE migration_state m SET archive_bookkeeping = 'rebuild'
        WHERE m.archive_bookkeeping IS NULL AND m.state IN ('migrating', 'migrated')
          AND (todoscale_archive_bookkeeping_paused() OR NOT todoscale_archive_recent_ready());
    END IF;
END;
$$;

-- The statements that build every missing index of 005 (the ones migration_start() deferred among them), one
-- partition at a time, so the application's writes go on, and then complete 009's archive bookkeeping (above): 005's
-- plan, run by psql's \gexec (at the end of this file) or by `todoscale migrate run` once the backfill is complete.
-- Every build is CONCURRENTLY, so no mirrored write waits on one. Partitions of at most
-- todoscale_migration_plain_index_pages() (0: none) would get a plain build instead, after at most the migration's
-- lock timeout, which blocks that partition's mirrored writes for the build. Faster when the application keeps long
-- transactions open (each concurrent build waits for every older one: 48-55 s against 12.6-20.8 s for the legacy
-- schema's slow deletes, bench of 2026-12-04 15:59), but at the writers' expense: with the advised index and plain
-- builds up to 8 MB, writers waited on a build up to 494-502 ms and their p99 while the indexes were built was
-- 4.34-5.00x their p99 alone, against 90-209 ms and 3.02-3.58x with every build concurrent, which took no longer
-- (21.9-23.5 s against 23.7-30.1 s; bench migration --only-index-variant of 2026-12-04 21:34 and 21:40). Empty while
-- the backfill runs (building them then would only slow it down) and when 005 is not installed.
--   SELECT stmt FROM migration_index_plan() ORDER BY step \gexec
CREATE OR REPLACE FUNCTION todoscale_migration_plain_index_pages() RETURNS bigint
LANGUAGE sql IMMUTABLE AS $$ SELECT 0::bigint $$;

-- The last step of migration_index_plan(): statistics of every table the backfill and the bookkeeping's rebuild
-- filled (a partitioned table's ANALYZE covers its partitions too).
CREATE OR REPLACE FUNCTION todoscale_migration_analyze_statement() RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT 'ANALYZE ' || string_agg(t.name, ', ' ORDER BY t.ord)
    FROM (VALUES (1, 'todos_active'), (2, 'todos_archived'), (3, 'todos_archived_recent'),
                 (4, 'todos_archived_recent_floor'), (5, 'todos_archived_locator'), (6, 'todos_archived_months')) t(ord, name)
    WHERE to_regclass(t.name) IS NOT NULL
$$;

CREATE OR REPLACE FUNCTION migration_index_plan()
RETURNS TABLE (step integer, stmt text)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_state text := (SELECT m.state FROM migration_state m);
BEGIN
    IF v_state = 'migrating' THEN
        RETURN;
    ELSIF to_regprocedure('todoscale_index_plan(bigint, text)') IS NOT NULL THEN
        -- Plain builds (when todoscale_migration_plain_index_pages() allows any) only for the deferred indexes of a
        -- migration that has not cut over: the application then writes those tables only through the mirror trigger.
        -- In any other state this is 005's own (concurrent) plan.
        -- Before a migration's steps, the migration's lock timeout for the write-blocking ones (the parent's index, each
        -- attach: 005's helper reads todoscale.lock_timeout) instead of 005's 1 s: writers queue behind such a request.
        RETURN QUERY EXECUTE $q$
            WITH p AS MATERIALIZED (SELECT * FROM todoscale_index_plan($1, $2))
            SELECT p.step, p.stmt FROM p
            UNION ALL
            SELECT 0, format('SET todoscale.lock_timeout = %L', $2)
            WHERE $3 AND EXISTS (SELECT 1 FROM p)$q$
            USING CASE WHEN v_state = 'migrated' THEN todoscale_migration_plain_index_pages() ELSE 0 END,
                  todoscale_migration_lock_timeout(), v_state = 'migrated';
    ELSIF to_regproc('todoscale_index_plan') IS NOT NULL THEN
        RETURN QUERY EXECUTE 'SELECT p.step, p.stmt FROM todoscale_index_plan() p';  -- 005 of an older install
    END IF;
    -- Then the archive's bookkeeping (paused by migration_start()), after every index: 009's backfill reads the archive.
    RETURN QUERY SELECT 1000000 + b.step, b.stmt FROM todoscale_archive_bookkeeping_plan() b;
    -- Last, statistics of the tables the backfill filled, once after it completed, then the note that they were
    -- taken (a run stopped between the two analyzes again). Autovacuum analyzes partitions in its own time and never a
    -- partitioned parent: without them validate_migration() joined the 618k active rows to the archive by a nested
    -- loop over every month (the parent's distinct ids guessed at 200), 25 s of its 26 s against 12 s after a 3.4 s
    -- ANALYZE (bench database of 2026-12-05 04:58), and the application's queries on the parents are planned as for
    -- empty tables. After the index builds, since ANALYZE waits for a concurrent build of its table, and after the
    -- bookkeeping's rebuild, which fills four of the tables. It blocks no write (SHARE UPDATE EXCLUSIVE).
    IF v_state = 'migrated' AND EXISTS (
        SELECT 1 FROM migration_state m WHERE m.analyzed_at IS NULL OR m.analyzed_at < m.completed_at) THEN
        RETURN QUERY SELECT 2000000, todoscale_migration_analyze_statement()
            UNION ALL SELECT 2000001, 'UPDATE migration_state SET analyzed_at = clock_timestamp()';
    END IF;
END;
$$;

-- How many steps of migration_index_plan() are left (its session settings and statistics aside): what `migrate run`
-- reports before it builds, and part of what cutover refuses on. An index built but not attached is a step too.
-- Statistics make plans better, not answers right: the plan's steps from 2000000 on (its ANALYZE and the note of it)
-- never hold back a cutover.
CREATE OR REPLACE FUNCTION migration_index_steps_left() RETURNS bigint
LANGUAGE sql STABLE AS $$
    SELECT count(*) FROM migration_index_plan() p WHERE p.step < 2000000 AND p.stmt NOT LIKE 'SET %'
$$;

-- ---------------------------------------------------------------------------------------------
-- Start (idempotent): refuse on blocking preflight issues, create the archive months the legacy data
-- needs (otherwise they pile up in todos_archived_default), then install the mirror trigger.
-- ---------------------------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION migration_start()
RETURNS TABLE (state text, archive_cutoff timestamptz, partitions_created integer)
LANGUAGE plpgsql AS $$
DECLARE
    v_state   migration_state%ROWTYPE;
    v_block   text;
    v_cutoff  timestamptz := now() - interval '30 days';
    v_month   date;
    v_created integer := 0;
    v_index   text;
    v_paused  boolean;
BEGIN
    SELECT * INTO v_state FROM migration_state FOR UPDATE;
    IF v_state.state IN ('migrating', 'migrated') THEN
        RETURN QUERY SELECT v_state.state, v_state.archive_cutoff, 0;
        RETURN;
    ELSIF v_state.state = 'cut_over' THEN
        RAISE EXCEPTION 'the migration was already cut over; run `todoscale migrate rollback` before migrating again'
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;

    SELECT string_agg(format('%s (%s rows): %s', p.check_name, p.affected_rows, p.handling), '; ') INTO v_block
    FROM migration_preflight() p WHERE p.severity = 'blocking';
    IF v_block IS NOT NULL THEN
        RAISE EXCEPTION 'migration blocked by preflight: %', v_block
            USING ERRCODE = 'check_violation', HINT = 'Run `todoscale migrate check` for details.';
    END IF;

    -- The new tables' secondary indexes (005) are built after the backfill, not maintained row by row while it
    -- fills them: maintaining the nine of todos_active made the single INSERT ... SELECT of 1M rows take 36.6 s
    -- against 22.1 s without them, plus 7.5 s to build them all concurrently afterwards, and every legacy write
    -- paid for them too, through the mirror trigger. The application does not read the new tables before cutover (the
    -- weekly health check's archival backlog scans todos_active meanwhile), and cutover refuses
    -- until they are built (migration_index_plan()); the preflight above refused tables that already hold rows.
    PERFORM set_config('lock_timeout', '5s', true);
    FOR v_index IN
        SELECT d.index_name FROM todoscale_migration_secondary_indexes() d
        WHERE to_regclass(quote_ident(d.index_name)) IS NOT NULL
    LOOP
        EXECUTE format('DROP INDEX %I', v_index);
    END LOOP;

    -- 009's bookkeeping of the archive too (see todoscale_archive_bookkeeping_pause), on the still empty archive.
    v_paused := todoscale_archive_bookkeeping_pause();

    FOR v_month IN
        SELECT DISTINCT date_trunc('month', t.completed_at AT TIME ZONE 'UTC')::date
        FROM todos t WHERE t.status = 'done' AND t.completed_at < v_cutoff
        ORDER BY 1
    LOOP
        IF todoscale_create_month_partition('todos_archived'::regclass, v_month) THEN
            v_created := v_created + 1;
        END IF;
    END LOOP;

    -- Last, so the lock it takes on todos (which waits for in-flight writers) is held for milliseconds;
    -- lock_timeout keeps the application from queueing behind it when a long writer is in the way.
    PERFORM set_config('lock_timeout', '5s', true);
    PERFORM todoscale_drop_todos_trigger('todoscale_readonly_after_cutover');
    PERFORM todoscale_drop_todos_trigger('todoscale_mirror');
    EXECUTE format('CREATE TRIGGER todoscale_mirror AFTER INSERT OR UPDATE OR DELETE ON todos
                    FOR EACH ROW EXECUTE FUNCTION todoscale_mirror_todo(%L)', v_cutoff);

    UPDATE migration_state m SET state = 'migrating', archive_cutoff = v_cutoff, last_key = NULL, rows_moved = 0,
        batches = 0, backfill_ctid = NULL, backfill_filenode = pg_relation_filenode('todos'),
        -- Read under the trigger's lock, after every writer without the trigger has finished: a page added later
        -- holds only versions the trigger copied, so the backfill stops here instead of chasing the writers' new
        -- versions to the end of the heap.
        backfill_end_page = todoscale_legacy_pages(),
        deferred_indexes = ARRAY(SELECT d.index_name FROM todoscale_migration_secondary_indexes() d
                                 WHERE to_regclass(quote_ident(d.index_name)) IS NULL),
        archive_bookkeeping = CASE WHEN todoscale_archive_bookkeeping_paused() THEN 'rebuild' END,
        started_at = now(), last_batch_at = NULL, completed_at = NULL, cutover_at = NULL, rolled_back_at = NULL;
    INSERT INTO migration_progress (step, start_time, end_time, status, detail)
    VALUES ('start', now(), clock_timestamp(), 'done',
            format('mirror trigger installed; archive cutoff %s; %s archive partition(s) created%s', v_cutoff, v_created,
                   (SELECT CASE WHEN cardinality(m.deferred_indexes) > 0
                                THEN format('; %s secondary index(es) built after the backfill', cardinality(m.deferred_indexes))
                                ELSE '' END FROM migration_state m) ||
                   CASE WHEN v_paused THEN '; the archive''s bookkeeping (009) rebuilt after it' ELSE '' END));

    RETURN QUERY SELECT 'migrating'::text, v_cutoff, v_created;
END;
$$;

-- ---------------------------------------------------------------------------------------------
-- Backfill: up to p_max_batches batches of p_batch_size rows, in the caller's transaction (call it with
-- p_max_batches = 1 per transaction to commit every batch; CALL migrate_todos does). Returns one row per
-- batch; no row once everything has moved.
--
-- HOW LONG AN APPLICATION WRITE CAN WAIT FOR A BATCH: one batch's duration (its row locks are held from
-- the lock step to its commit), never an application transaction's. A batch that met a row locked by the
-- application used to wait for it while holding FOR SHARE on every row before it, so writes to those rows
-- (nothing else held them) waited as long as that application transaction lasted (20 s in the reproduction).
-- Now the lock step takes its rows with SKIP LOCKED and the batch ends just before the first row another
-- transaction holds. When that held row is the very next key, the batch undoes its own locks (a
-- subtransaction) and waits for that one row alone, holding nothing an application write needs, for at
-- most todoscale_migration_row_wait(); still held then, the call returns a batch of 0 rows (recorded as a
-- 'wait' in migration_progress with the holder's pid) and the next call tries again. Every other lock a
-- batch takes is bounded by todoscale_migration_lock_timeout(): a batch that hits it is undone whole and
-- retried, as after a deadlock.
-- ---------------------------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION todoscale_migration_row_wait() RETURNS text
LANGUAGE sql IMMUTABLE AS $$ SELECT '500ms'::text $$;
CREATE OR REPLACE FUNCTION todoscale_migration_lock_timeout() RETURNS text
LANGUAGE sql IMMUTABLE AS $$ SELECT '200ms'::text $$;

-- Who holds a legacy row (for the 'wait' entry): the transaction in the row's xmax, if it is one backend.
-- plpgsql, not sql: a sql function's body is checked against `todos` when it is created, and a database
-- without a legacy table (a fresh install) has none.
CREATE OR REPLACE FUNCTION todoscale_row_holder(p_id uuid) RETURNS text
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN coalesce(
        (SELECT format('pid %s (%s, %s, transaction open %s s)', a.pid,
                       coalesce(nullif(a.application_name, ''), a.usename::text), a.state,
                       round(extract(epoch FROM clock_timestamp() - a.xact_start)::numeric, 1))
         FROM todos t
         JOIN pg_locks l ON l.locktype = 'transactionid' AND l.transactionid = t.xmax AND l.mode = 'ExclusiveLock' AND l.granted
         JOIN pg_stat_activity a ON a.pid = l.pid
         WHERE t.id = p_id LIMIT 1),
        'another transaction');
END;
$$;

-- A position in the legacy heap: (page, offset). The backfill's cursor is the first tuple position it has not
-- passed yet; a tid built from text compares like any ctid, whether or not that offset exists.
CREATE OR REPLACE FUNCTION todoscale_tid(p_page bigint, p_offset integer) RETURNS tid
LANGUAGE sql IMMUTABLE AS $$ SELECT format('(%s,%s)', p_page, p_offset)::tid $$;
CREATE OR REPLACE FUNCTION todoscale_tid_page(p tid) RETURNS bigint
LANGUAGE sql IMMUTABLE AS $$ SELECT ((p::text)::point)[0]::bigint $$;
CREATE OR REPLACE FUNCTION todoscale_tid_after(p tid) RETURNS tid
LANGUAGE sql IMMUTABLE AS $$ SELECT todoscale_tid(todoscale_tid_page(p), ((p::text)::point)[1]::integer + 1) $$;

-- plpgsql, not sql, for both below: a sql function's body is checked against `todos` when it is created, and a
-- database without a legacy table (a fresh install) has none.
CREATE OR REPLACE FUNCTION todoscale_legacy_pages() RETURNS bigint
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN pg_relation_size('todos') / current_setting('block_size')::bigint;
END;
$$;

-- The part of todos' heap the backfill has still to read: from its cursor up to the pages todos had when the
-- mirror trigger came. A rewrite of todos (VACUUM FULL, CLUSTER, pg_repack, ALTER TABLE … TYPE) gives it a new
-- file in which rows sit anywhere, including pages the cursor has passed; then (and before any cursor, or on an
-- install from before the physical order) it is the whole heap from page 0: rows the rewrite moved are all in the
-- new file's pages. The copies already made stay (ON CONFLICT DO NOTHING), so a restart costs time, never a row.
CREATE OR REPLACE FUNCTION todoscale_backfill_range(p migration_state, OUT from_tid tid, OUT end_page bigint)
LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF p.backfill_end_page IS NOT NULL AND p.backfill_filenode IS NOT DISTINCT FROM pg_relation_filenode('todos') THEN
        from_tid := coalesce(p.backfill_ctid, todoscale_tid(0, 0));
        end_page := p.backfill_end_page;
    ELSE
        from_tid := todoscale_tid(0, 0);
        end_page := todoscale_legacy_pages();
    END IF;
END;
$$;

CREATE OR REPLACE FUNCTION migrate_todos_batch(batch_size integer, max_batches integer DEFAULT 1)
RETURNS TABLE (batch bigint, rows_moved bigint, last_key uuid, completed boolean)
LANGUAGE plpgsql AS $$
DECLARE
    v_state     migration_state%ROWTYPE;
    v_filenode  oid;
    v_pages     bigint;
    v_window    bigint;
    v_from      tid;
    v_to        tid;
    v_cursor    tid;
    v_next_tids tid[];
    v_next_ids  uuid[];
    v_more_tids tid[];
    v_more_ids  uuid[];
    v_lock_tids tid[];
    v_lock_ids  uuid[];
    v_held_at   integer;
    v_n         integer;
    v_moved     bigint;
    v_started   timestamptz;
    v_holder    text;
BEGIN
    IF batch_size IS NULL OR batch_size < 1 OR max_batches IS NULL OR max_batches < 1 THEN
        RAISE EXCEPTION 'batch_size and max_batches must be positive' USING ERRCODE = 'invalid_parameter_value';
    END IF;

    FOR i IN 1..max_batches LOOP
        v_started := clock_timestamp();
        -- Serialises migrators; FOR UPDATE also re-reads the row another migrator just committed.
        SELECT * INTO v_state FROM migration_state FOR UPDATE;
        IF v_state.state IN ('not_started', 'rolled_back') THEN
            PERFORM migration_start();
            SELECT * INTO v_state FROM migration_state FOR UPDATE;
        END IF;
        IF v_state.state <> 'migrating' THEN
            RETURN;  -- migrated, cut over: nothing left to move
        END IF;
        -- Before todos' file is read, held to commit: a rewrite (ACCESS EXCLUSIVE) finishes first, or waits for
        -- this batch. Without it a batch compared the old file, waited on its scan while CLUSTER committed, then
        -- read the compacted file from the old cursor, found nothing and marked the migration done with rows never
        -- copied (review of 2026-12-04). Not under the batch's lock_timeout: waiting here holds no row.
        LOCK TABLE todos IN ACCESS SHARE MODE;
        PERFORM set_config('lock_timeout', todoscale_migration_lock_timeout(), true);

        v_filenode := pg_relation_filenode('todos');
        SELECT r.from_tid, r.end_page INTO v_cursor, v_pages FROM todoscale_backfill_range(v_state) r;

        -- (0) The next batch_size rows after the cursor in physical order, as this snapshot sees them. A window
        -- of pages (a TID range scan, read sequentially like the single INSERT … SELECT) sized from the
        -- table's rows per page, widened while it holds fewer rows than asked and pages remain.
        v_window := greatest(1, ceil(batch_size * 1.2 / coalesce(
            (SELECT c.reltuples / c.relpages FROM pg_class c
             WHERE c.oid = 'todos'::regclass AND c.relpages > 0 AND c.reltuples > 0), 50))::bigint);
        v_from := v_cursor;
        v_next_tids := '{}';
        v_next_ids := '{}';
        LOOP
            v_to := todoscale_tid(least(todoscale_tid_page(v_from) + v_window, v_pages), 0);
            SELECT coalesce(array_agg(k.ctid ORDER BY k.ctid), '{}'), coalesce(array_agg(k.id ORDER BY k.ctid), '{}')
            INTO v_more_tids, v_more_ids
            FROM (SELECT t.ctid, t.id FROM todos t WHERE t.ctid >= v_from AND t.ctid < v_to
                  ORDER BY t.ctid LIMIT batch_size - cardinality(v_next_ids)) k;
            v_next_tids := v_next_tids || v_more_tids;
            v_next_ids := v_next_ids || v_more_ids;
            EXIT WHEN cardinality(v_next_ids) >= batch_size OR todoscale_tid_page(v_to) >= v_pages;
            v_from := v_to;
            v_window := v_window * 2;
        END LOOP;

        IF cardinality(v_next_ids) = 0 THEN
            -- Past the last page: every row untouched since the mirror trigger exists was copied by a batch,
            -- every other by the trigger (pages after backfill_end_page hold only versions written after it).
            UPDATE migration_state m SET state = 'migrated', completed_at = now(), backfill_ctid = v_to, backfill_filenode = v_filenode, backfill_end_page = v_pages;
            INSERT INTO migration_progress (step, start_time, end_time, rows_moved, last_key, status, detail)
            VALUES ('complete', v_started, clock_timestamp(), v_state.rows_moved, v_state.last_key, 'completed',
                    format('%s rows in %s batches; the mirror trigger keeps the copies current until cutover',
                           v_state.rows_moved, v_state.batches));
            RETURN QUERY SELECT v_state.batches, 0::bigint, v_state.last_key, true;
            RETURN;
        END IF;
        v_n := cardinality(v_next_ids);

        -- (1) The same range locked FOR SHARE with SKIP LOCKED. A row updated since (0) comes back locked in its
        -- newest version, with that version's position, or not at all (see the header). The first row of (0)
        -- that the lock did not return is held by another transaction (or was deleted or moved meanwhile), and
        -- the batch ends before it. Rows deleted before the lock are not returned, so never resurrected.
        v_held_at := NULL;
        BEGIN
            SELECT array_agg(k.ctid), array_agg(k.id) INTO v_lock_tids, v_lock_ids
            FROM (SELECT t.ctid, t.id FROM todos t WHERE t.ctid >= v_cursor AND t.ctid <= v_next_tids[v_n]
                  FOR SHARE SKIP LOCKED) k;
            -- A hash anti-join: "= ANY (array)" would compare every pair of a 5,000-row batch.
            SELECT min(n.ord) INTO v_held_at
            FROM unnest(v_next_ids) WITH ORDINALITY AS n(id, ord)
            WHERE NOT EXISTS (SELECT 1 FROM unnest(coalesce(v_lock_ids, '{}')) AS l(id) WHERE l.id = n.id);
            IF v_held_at = 1 THEN
                -- Undo this subtransaction's row locks before waiting: see the header.
                RAISE EXCEPTION USING ERRCODE = 'TSM01';
            END IF;
        EXCEPTION WHEN SQLSTATE 'TSM01' THEN
            v_lock_tids := NULL;
            v_lock_ids := NULL;
        END;

        IF v_held_at = 1 THEN
            BEGIN
                PERFORM set_config('lock_timeout', todoscale_migration_row_wait(), true);
                SELECT array_agg(k.ctid), array_agg(k.id) INTO v_lock_tids, v_lock_ids
                FROM (SELECT t.ctid, t.id FROM todos t WHERE t.ctid = v_next_tids[1] FOR SHARE) k;
                PERFORM set_config('lock_timeout', todoscale_migration_lock_timeout(), true);
            EXCEPTION WHEN lock_not_available THEN
                v_holder := todoscale_row_holder(v_next_ids[1]);
                -- One 'wait' entry per held row, its end_time moving on, instead of a row every half second.
                UPDATE migration_progress p SET end_time = clock_timestamp(), detail = format(
                           'waiting for row %s, held by %s; application writes to other rows do not wait', v_next_ids[1], v_holder)
                WHERE p.id = (SELECT max(p2.id) FROM migration_progress p2) AND p.step = 'wait' AND p.last_key = v_next_ids[1];
                IF NOT FOUND THEN
                    INSERT INTO migration_progress (step, start_time, end_time, rows_moved, last_key, status, detail)
                    VALUES ('wait', v_started, clock_timestamp(), 0, v_next_ids[1], 'waiting',
                            format('waiting for row %s, held by %s; application writes to other rows do not wait', v_next_ids[1], v_holder));
                END IF;
                RETURN QUERY SELECT v_state.batches, 0::bigint, v_state.last_key, false;
                RETURN;
            END;
            IF v_lock_ids IS NULL THEN
                -- Deleted by its holder, or updated out of this position (the trigger copied that version):
                -- nothing to copy here; the next call starts after it.
                UPDATE migration_state m SET backfill_ctid = todoscale_tid_after(v_next_tids[1]), backfill_filenode = v_filenode,
                    backfill_end_page = v_pages;
                RETURN QUERY SELECT v_state.batches, 0::bigint, v_state.last_key, false;
                RETURN;
            END IF;
            v_n := 1;
        ELSIF v_held_at IS NOT NULL THEN
            v_n := v_held_at - 1;
            -- Only the rows before the held one: the cursor stops at it, and the rows after it are copied by the
            -- batch that starts there (their locks end with this transaction).
            SELECT array_agg(l.ctid), array_agg(l.id) INTO v_lock_tids, v_lock_ids
            FROM unnest(v_lock_tids, v_lock_ids) AS l(ctid, id)
            WHERE EXISTS (SELECT 1 FROM unnest(v_next_ids[1:v_n]) AS n(id) WHERE n.id = l.id);
        END IF;

        -- (2) A new statement, so a fresh snapshot that sees every write committed before the lock: copy the
        -- locked versions, fetched by position (a TID scan: the rows just read, no index probe per row). A
        -- locked row cannot change before this transaction commits, so its position still holds that version.
        -- A copy that already exists (made by the trigger) is, by the invariant, this very version of the
        -- row: same user_id, same completed_at, same placement, so it conflicts on the same primary key and is
        -- kept as it is (ON CONFLICT DO NOTHING). That makes a batch cost O(batch) index probes; deleting
        -- copies first would have to search every partition for every id.
        WITH src AS MATERIALIZED (
            SELECT t.id, t.user_id, t.parent_todo_id, t.project_id, t.title, t.description, t.status, t.priority,
                   t.due_date, t.completed_at, t.ai_generated, t.created_at, t.updated_at,
                   (t.status = 'done' AND t.completed_at < v_state.archive_cutoff) IS TRUE AS archive
            FROM todos t WHERE t.ctid = ANY (coalesce(v_lock_tids, '{}'))
        ), ins_active AS (
            INSERT INTO todos_active (id, user_id, parent_todo_id, project_id, title, description, status,
                                      priority, due_date, completed_at, ai_generated, created_at, updated_at)
            SELECT id, user_id, parent_todo_id, project_id, title, description, status,
                   priority, due_date, completed_at, ai_generated, created_at, updated_at
            FROM src WHERE NOT archive
            ON CONFLICT DO NOTHING
        ), ins_archived AS (
            INSERT INTO todos_archived (id, user_id, parent_todo_id, project_id, title, description, status,
                                        priority, due_date, completed_at, ai_generated, created_at, updated_at)
            SELECT id, user_id, parent_todo_id, project_id, title, description, status,
                   priority, due_date, completed_at, ai_generated, created_at, updated_at
            FROM src WHERE archive
            ON CONFLICT DO NOTHING
        )
        SELECT count(*) INTO v_moved FROM src;

        -- (3) Progress commits with the copies, or not at all. The cursor stops at a held row, else passes the
        -- batch's last row.
        UPDATE migration_state m SET last_key = v_next_ids[v_n], rows_moved = m.rows_moved + v_moved,
            batches = m.batches + 1, last_batch_at = clock_timestamp(), backfill_filenode = v_filenode, backfill_end_page = v_pages,
            backfill_ctid = CASE WHEN v_held_at > 1 THEN v_next_tids[v_held_at] ELSE todoscale_tid_after(v_next_tids[v_n]) END;
        INSERT INTO migration_progress (step, start_time, end_time, rows_moved, last_key, status)
        VALUES ('batch', v_started, clock_timestamp(), v_moved, v_next_ids[v_n], 'done');

        RETURN QUERY SELECT v_state.batches + 1, v_moved, v_next_ids[v_n], false;
    END LOOP;
END;
$$;

-- ---------------------------------------------------------------------------------------------
-- The batch engine drives the backfill (maintenance/engine.sql, included at the top of this file): each
-- batch is sized to take a target time from the smoothed rows/second of the batches before it, a batch
-- undone by a lock timeout or deadlock is retried at half its size instead of whole, and health signals
-- (the application waiting on the batch's locks, vacuum on todos or the new tables, WAL rate, replica lag,
-- an optional probe statement) pause or slow it, each with the reason recorded in migration_progress.
-- migrate_todos_configure() sets the knobs of a run; migrate_todos_next() is one step of it, in the caller's
-- transaction (one call per transaction); CALL migrate_todos(...) and `todoscale migrate run` loop over it.
-- ---------------------------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION todoscale_migration_engine_tables() RETURNS text[]
LANGUAGE sql IMMUTABLE AS $$ SELECT ARRAY['todos', 'todos_active', 'todos_archived'] $$;

-- batch_size or throttle given: every batch that size (5,000 if only throttle is given), adaptation off, as
-- before the engine; the signals stay on unless signals => false. Returns the mode, as migrate status shows it.
CREATE OR REPLACE FUNCTION migrate_todos_configure(
    batch_size integer DEFAULT NULL, throttle interval DEFAULT NULL, target interval DEFAULT '200 ms',
    max_batch integer DEFAULT 50000, signals boolean DEFAULT true, wal_budget_mb numeric DEFAULT 100,
    max_replica_lag interval DEFAULT '10 s', probe text DEFAULT NULL, max_pause interval DEFAULT '60 s')
RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM batch_engine_configure('migration', todoscale_migration_engine_tables(), target, max_batch,
        least(100, max_batch),
        CASE WHEN batch_size IS NOT NULL OR throttle IS NOT NULL THEN coalesce(batch_size, 5000) END,
        coalesce(throttle, interval '0'), signals, wal_budget_mb, max_replica_lag, probe, max_pause);
    RETURN (SELECT s.mode FROM batch_engine_status() s WHERE s.job = 'migration');
END;
$$;

-- One step: ask the engine whether a batch may run (if not: outcome 'paused', nothing locked, ask again
-- after pause_ms), run migrate_todos_batch() at the engine's size in a subtransaction, and tell the engine
-- how it went, all in the caller's transaction. Outcomes: batch (rows copied), split (undone by a lock
-- timeout, deadlock or serialization failure; the next try is half the size), wait (the next row is held by
-- the application, see migrate_todos_batch), paused, completed. pause_ms: how long the caller sleeps after
-- committing (a pause, the throttle, or one batch time after a batch that made the application wait or while
-- an autovacuum cleans a table the copy fills).
CREATE OR REPLACE FUNCTION migrate_todos_next()
RETURNS TABLE (outcome text, rows_moved bigint, last_key uuid, batch_rows integer, elapsed_ms numeric,
               next_rows integer, pause_ms integer, signal text, detail text)
LANGUAGE plpgsql AS $$
DECLARE
    v_job     batch_engine_jobs := batch_engine_job('migration', todoscale_migration_engine_tables());
    v_check   record;
    v_rows    bigint := 0;
    v_last    uuid;
    v_done    boolean;
    v_size    integer;
    v_t0      timestamptz;
    v_ms      double precision;
    v_outcome text;
    v_err     text;
BEGIN
    IF (SELECT m.state FROM migration_state m) IN ('migrated', 'cut_over') THEN
        RETURN QUERY SELECT 'completed'::text, 0::bigint, NULL::uuid, v_job.batch_rows, 0::numeric, v_job.batch_rows, 0, NULL::text, NULL::text;
        RETURN;
    END IF;

    v_check := batch_engine_check('migration');
    IF v_check.action = 'pause' THEN
        -- One 'pause' entry per signal episode, its end_time and reason moving on, as the 'wait' entries.
        UPDATE migration_progress p SET end_time = clock_timestamp(), detail = v_check.reason
        WHERE p.id = (SELECT max(p2.id) FROM migration_progress p2) AND p.step = 'pause' AND p.status = 'paused: ' || v_check.signal;
        IF NOT FOUND THEN
            INSERT INTO migration_progress (step, start_time, end_time, rows_moved, status, detail)
            VALUES ('pause', clock_timestamp(), clock_timestamp(), 0, 'paused: ' || v_check.signal, v_check.reason);
        END IF;
        RETURN QUERY SELECT 'paused'::text, 0::bigint, NULL::uuid, v_job.batch_rows, 0::numeric, v_job.batch_rows,
                            v_check.pause_ms, v_check.signal, v_check.reason;
        RETURN;
    END IF;

    SELECT j.batch_rows INTO v_size FROM batch_engine_jobs j WHERE j.job = 'migration';
    v_t0 := clock_timestamp();
    BEGIN
        SELECT b.rows_moved, b.last_key, b.completed INTO v_rows, v_last, v_done FROM migrate_todos_batch(v_size, 1) b;
        v_outcome := CASE WHEN NOT FOUND OR v_done THEN 'completed' WHEN v_rows = 0 THEN 'wait' ELSE 'batch' END;
    EXCEPTION WHEN lock_not_available OR deadlock_detected OR serialization_failure THEN
        -- The subtransaction undid the batch's copies, progress and locks; the engine halves the next try.
        v_outcome := 'split';
        v_err := SQLERRM;
        v_rows := 0;
    END;
    v_ms := extract(epoch FROM clock_timestamp() - v_t0) * 1000;
    v_job := batch_engine_record('migration', CASE WHEN v_outcome = 'batch' THEN v_rows::int ELSE 0 END, v_ms,
                                 CASE v_outcome WHEN 'batch' THEN 'ok' WHEN 'completed' THEN 'done' ELSE v_outcome END, v_err);

    IF v_outcome = 'batch' THEN
        UPDATE migration_progress p
        SET detail = format('%s rows in %s ms (target %s ms); next %s rows%s', v_rows, round(v_ms::numeric),
                            v_job.target_ms, v_job.batch_rows,
                            CASE WHEN v_job.last_waiters > 0 THEN '; ' || v_job.signal_detail ELSE '' END ||
                            CASE WHEN v_check.signal = 'autovacuum' THEN '; ' || v_check.reason ELSE '' END)
        WHERE p.id = (SELECT max(p2.id) FROM migration_progress p2) AND p.step = 'batch';
    ELSIF v_outcome = 'split' THEN
        INSERT INTO migration_progress (step, start_time, end_time, rows_moved, last_key, status, detail)
        VALUES ('split', v_t0, clock_timestamp(), 0, (SELECT m.last_key FROM migration_state m), 'retried',
                format('%s; retrying with %s rows', v_job.last_detail, v_job.batch_rows));
    END IF;

    RETURN QUERY SELECT v_outcome, CASE WHEN v_outcome = 'batch' THEN v_rows ELSE 0 END,
        CASE WHEN v_outcome = 'batch' THEN v_last END, v_size, round(v_ms::numeric, 1), v_job.batch_rows,
        CASE WHEN v_outcome IN ('batch', 'completed') THEN v_check.pause_ms ELSE 0 END,
        CASE WHEN v_outcome = 'split' THEN 'lock_timeout' ELSE v_check.signal END,
        CASE WHEN v_outcome = 'split' THEN v_job.last_detail ELSE v_check.reason END;
END;
$$;

-- Every remaining batch, one COMMIT per step so that other sessions see migration_progress grow. Without
-- arguments the engine sizes the batches (target 200 ms, up to max_batch rows); batch_size or throttle fix
-- them as before. The old (batch_size, throttle) procedure is dropped first: a CREATE OR REPLACE with more
-- arguments would add a second procedure beside it and make every CALL migrate_todos(5000) ambiguous.
DROP PROCEDURE IF EXISTS migrate_todos(integer, interval);
CREATE OR REPLACE PROCEDURE migrate_todos(
    batch_size integer DEFAULT NULL, throttle interval DEFAULT NULL, target interval DEFAULT '200 ms',
    max_batch integer DEFAULT 50000, signals boolean DEFAULT true, wal_budget_mb numeric DEFAULT 100,
    max_replica_lag interval DEFAULT '10 s', probe text DEFAULT NULL, max_pause interval DEFAULT '60 s')
LANGUAGE plpgsql AS $$
DECLARE
    v_outcome text;
    v_pause   integer;
    v_detail  text;
    v_retries integer := 0;
BEGIN
    RAISE NOTICE 'migrating: %', migrate_todos_configure(batch_size, throttle, target, max_batch, signals, wal_budget_mb,
                                                         max_replica_lag, probe, max_pause);
    COMMIT;
    LOOP
        BEGIN
            SELECT s.outcome, s.pause_ms, s.detail INTO v_outcome, v_pause, v_detail FROM migrate_todos_next() s;
            v_retries := 0;  -- the limit is on consecutive failures, not on a long run's total
        EXCEPTION WHEN deadlock_detected OR serialization_failure OR lock_not_available THEN
            -- Outside the batch itself (its own failures are split and retried by migrate_todos_next).
            v_retries := v_retries + 1;
            IF v_retries > 50 THEN
                RAISE;
            END IF;
            v_outcome := 'retry';
            v_pause := 100;
            v_detail := NULL;
        END;
        COMMIT;
        IF v_outcome = 'completed' THEN
            IF EXISTS (SELECT 1 FROM migration_index_plan()) THEN
                -- A procedure cannot build an index CONCURRENTLY, which the plan does for partitions above its bound.
                RAISE NOTICE 'backfill complete; build the new tables'' deferred indexes and the archive''s bookkeeping before cutover: SELECT stmt FROM migration_index_plan() ORDER BY step %gexec (twice: the second pass plans what follows the first)', chr(92);
            END IF;
            EXIT;
        END IF;
        IF v_outcome IN ('paused', 'split') THEN
            RAISE NOTICE '%', v_detail;
        END IF;
        IF v_pause > 0 THEN
            PERFORM pg_sleep(v_pause / 1000.0);
        END IF;
    END LOOP;
END;
$$;

-- ---------------------------------------------------------------------------------------------
-- Runner sessions. `todoscale migrate run` holds this session-level advisory lock for its whole run, so a
-- second run does not queue behind the first on migration_state. A run whose client was killed keeps its
-- server session (and the lock) until the server notices: at once when the session is idle, else when the
-- statement in flight ends or client_connection_check_interval (which the runner sets) finds the socket
-- closed. migration_sessions() shows who holds the lock, and any session running a batch, so `migrate
-- status` and the busy error can name them; `migrate run --takeover` ends them (pg_terminate_backend).
-- ---------------------------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION todoscale_migration_lock_key() RETURNS bigint
LANGUAGE sql IMMUTABLE AS $$ SELECT x'7D05CA1E0002'::bigint $$;

CREATE OR REPLACE FUNCTION migration_sessions()
RETURNS TABLE (pid integer, holds_lock boolean, application text, client text, state text, waiting_for text,
               session_seconds numeric, statement_seconds numeric, query text)
LANGUAGE sql STABLE AS $$
    WITH holders AS (
        SELECT l.pid FROM pg_locks l
        WHERE l.locktype = 'advisory' AND l.granted
          AND l.database = (SELECT d.oid FROM pg_database d WHERE d.datname = current_database())
          AND l.classid = (todoscale_migration_lock_key() >> 32)::oid
          AND l.objid = (todoscale_migration_lock_key() & x'FFFFFFFF'::bigint)::oid
          AND l.objsubid = 1)
    SELECT a.pid, a.pid IN (SELECT h.pid FROM holders h), coalesce(nullif(a.application_name, ''), a.usename::text),
           coalesce(host(a.client_addr) || ':' || a.client_port, 'local socket'), a.state,
           CASE WHEN a.wait_event IS NOT NULL THEN a.wait_event_type || ':' || a.wait_event END,
           round(extract(epoch FROM clock_timestamp() - a.backend_start)::numeric, 1),
           round(extract(epoch FROM clock_timestamp() - a.query_start)::numeric, 1),
           left(a.query, 200)
    FROM pg_stat_activity a
    WHERE a.datname = current_database() AND a.pid <> pg_backend_pid()
      AND (a.pid IN (SELECT h.pid FROM holders h)
           OR (a.state = 'active' AND a.query ~* 'migrate_todos(_batch|_next)?\s*\('))
    ORDER BY 2 DESC, a.pid;
$$;

-- ---------------------------------------------------------------------------------------------
-- Status
-- ---------------------------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION migration_status()
RETURNS TABLE (state text, archive_cutoff timestamptz, legacy_rows bigint, rows_moved bigint, rows_remaining bigint,
               batches bigint, last_key uuid, mirror_trigger boolean, started_at timestamptz, last_batch_at timestamptz,
               completed_at timestamptz, cutover_at timestamptz, rolled_back_at timestamptz)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v migration_state%ROWTYPE;
    v_legacy bigint;
    v_remaining bigint;
    v_trigger boolean := false;
BEGIN
    SELECT * INTO v FROM migration_state;
    IF to_regclass('todos') IS NOT NULL THEN
        SELECT count(*) INTO v_legacy FROM todos;
        IF v.state IN ('not_started', 'rolled_back') THEN
            v_remaining := v_legacy;
        ELSIF v.state = 'migrating' THEN
            -- Rows the backfill has still to read; some were copied by the trigger already (written since it exists).
            SELECT count(*) INTO v_remaining FROM todos t, todoscale_backfill_range(v) r
            WHERE t.ctid >= r.from_tid AND t.ctid < todoscale_tid(r.end_page, 0);
        ELSE
            v_remaining := 0;
        END IF;
        SELECT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = 'todos'::regclass AND tgname = 'todoscale_mirror')
        INTO v_trigger;
    END IF;
    RETURN QUERY SELECT v.state, v.archive_cutoff, v_legacy, v.rows_moved, v_remaining, v.batches, v.last_key,
        v_trigger, v.started_at, v.last_batch_at, v.completed_at, v.cutover_at, v.rolled_back_at;
END;
$$;

-- ---------------------------------------------------------------------------------------------
-- Validation: legacy todos against todos_active ∪ todos_archived. STABLE, so every query below reads the
-- same snapshot and the checks agree with each other even while the application keeps writing.
-- The checksum sums a 64-bit hash per row (order-independent, constant memory); string_agg over
-- millions of rows would need the whole table as one string.
-- ---------------------------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION validate_migration()
RETURNS TABLE (check_name text, expected text, actual text, status text)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_cutoff timestamptz;
BEGIN
    IF to_regclass('todos') IS NULL THEN
        RETURN QUERY SELECT 'legacy_table'::text, 'todos exists'::text, 'no todos table'::text, 'FAIL'::text;
        RETURN;
    END IF;
    SELECT coalesce(m.archive_cutoff, now() - interval '30 days') INTO v_cutoff FROM migration_state m;

    RETURN QUERY
    WITH l AS (SELECT count(*) AS n FROM todos),
         n AS (SELECT (SELECT count(*) FROM todos_active) + (SELECT count(*) FROM todos_archived) AS n)
    SELECT 'total_rows'::text, l.n::text, n.n::text, CASE WHEN l.n = n.n THEN 'PASS' ELSE 'FAIL' END FROM l, n;

    RETURN QUERY
    WITH l AS (SELECT t.status::text AS s, count(*) AS n FROM todos t GROUP BY 1),
         n AS (SELECT u.status AS s, count(*) AS n
               FROM (SELECT a.status FROM todos_active a UNION ALL SELECT r.status FROM todos_archived r) u GROUP BY 1)
    SELECT 'rows_with_status_' || coalesce(l.s, n.s, 'NULL'), coalesce(l.n, 0)::text, coalesce(n.n, 0)::text,
           CASE WHEN coalesce(l.n, 0) = coalesce(n.n, 0) THEN 'PASS' ELSE 'FAIL' END
    FROM l FULL JOIN n ON n.s = l.s ORDER BY 1;

    RETURN QUERY
    SELECT 'no_id_in_both_new_tables'::text, '0'::text, count(*)::text, CASE WHEN count(*) = 0 THEN 'PASS' ELSE 'FAIL' END
    FROM todos_archived r WHERE EXISTS (SELECT 1 FROM todos_active a WHERE a.id = r.id);

    RETURN QUERY
    WITH u AS (SELECT a.id FROM todos_active a UNION ALL SELECT r.id FROM todos_archived r)
    SELECT 'no_duplicate_ids'::text, '0'::text, (count(*) - count(DISTINCT u.id))::text,
           CASE WHEN count(*) = count(DISTINCT u.id) THEN 'PASS' ELSE 'FAIL' END FROM u;

    RETURN QUERY
    SELECT 'no_legacy_id_missing'::text, '0'::text, count(*)::text, CASE WHEN count(*) = 0 THEN 'PASS' ELSE 'FAIL' END
    FROM todos t
    WHERE NOT EXISTS (SELECT 1 FROM todos_active a WHERE a.id = t.id)
      AND NOT EXISTS (SELECT 1 FROM todos_archived r WHERE r.id = t.id);

    RETURN QUERY
    WITH u AS (SELECT a.id FROM todos_active a UNION ALL SELECT r.id FROM todos_archived r)
    SELECT 'no_extra_id'::text, '0'::text, count(*)::text, CASE WHEN count(*) = 0 THEN 'PASS' ELSE 'FAIL' END
    FROM u WHERE NOT EXISTS (SELECT 1 FROM todos t WHERE t.id = u.id);

    RETURN QUERY
    WITH l AS (
        SELECT coalesce(sum(hashtextextended(ROW(t.id, t.user_id, t.parent_todo_id, t.project_id, t.title::text,
                   t.description, t.status::text, t.priority, t.due_date, t.completed_at, t.ai_generated,
                   t.created_at, t.updated_at)::text, 0)::numeric), 0) AS h
        FROM todos t),
    n AS (
        SELECT coalesce(sum(hashtextextended(ROW(u.id, u.user_id, u.parent_todo_id, u.project_id, u.title,
                   u.description, u.status, u.priority, u.due_date, u.completed_at, u.ai_generated,
                   u.created_at, u.updated_at)::text, 0)::numeric), 0) AS h
        FROM (SELECT a.id, a.user_id, a.parent_todo_id, a.project_id, a.title, a.description, a.status, a.priority,
                     a.due_date, a.completed_at, a.ai_generated, a.created_at, a.updated_at FROM todos_active a
              UNION ALL
              SELECT r.id, r.user_id, r.parent_todo_id, r.project_id, r.title, r.description, r.status, r.priority,
                     r.due_date, r.completed_at, r.ai_generated, r.created_at, r.updated_at FROM todos_archived r) u)
    SELECT 'checksum_all_13_columns'::text, l.h::text, n.h::text, CASE WHEN l.h = n.h THEN 'PASS' ELSE 'FAIL' END FROM l, n;

    -- Rows that the rule sends to the archive and that are still in todos_active, plus archived rows that
    -- are not done. (Archived rows completed after the cutoff are legitimate once maintenance archives them.)
    RETURN QUERY
    WITH bad AS (
        SELECT count(*) AS n FROM todos_active a WHERE a.status = 'done' AND a.completed_at < v_cutoff
        UNION ALL
        SELECT count(*) FROM todos_archived r WHERE r.status <> 'done')
    SELECT 'done_before_' || to_char(v_cutoff AT TIME ZONE 'UTC', 'YYYY-MM-DD') || '_archived',
           '0 misplaced'::text, sum(bad.n)::text || ' misplaced', CASE WHEN sum(bad.n) = 0 THEN 'PASS' ELSE 'FAIL' END
    FROM bad;

    RETURN QUERY
    WITH l AS (SELECT count(*) AS n FROM todos t
               WHERE t.parent_todo_id IS NOT NULL AND EXISTS (SELECT 1 FROM todos p WHERE p.id = t.parent_todo_id)),
         u AS (SELECT a.id, a.parent_todo_id FROM todos_active a UNION ALL SELECT r.id, r.parent_todo_id FROM todos_archived r),
         n AS (SELECT count(*) AS n FROM u c
               WHERE c.parent_todo_id IS NOT NULL AND EXISTS (SELECT 1 FROM u p WHERE p.id = c.parent_todo_id))
    SELECT 'parent_references_resolve'::text, l.n::text, n.n::text, CASE WHEN l.n = n.n THEN 'PASS' ELSE 'FAIL' END FROM l, n;

    -- The checks above count; this one names the ids behind a failure, so an operator can look at them and
    -- repair them (migration_repair()) instead of starting over.
    RETURN QUERY
    WITH d AS (SELECT * FROM migration_differences()),
         shown AS (SELECT string_agg(format('%s (%s)', d.id, d.problem), ', ' ORDER BY d.problem, d.id) AS ids
                   FROM (SELECT * FROM d ORDER BY d.problem, d.id LIMIT 10) d)
    SELECT 'ids_that_differ'::text, 'none'::text,
           CASE WHEN (SELECT count(*) FROM d) = 0 THEN 'none'
                ELSE format('%s id(s): %s%s; repair: todoscale migrate repair (SELECT * FROM migration_repair())',
                            (SELECT count(*) FROM d), (SELECT ids FROM shown),
                            CASE WHEN (SELECT count(*) FROM d) > 10 THEN ', ...' ELSE '' END) END,
           CASE WHEN (SELECT count(*) FROM d) = 0 THEN 'PASS' ELSE 'FAIL' END;
END;
$$;

-- ---------------------------------------------------------------------------------------------
-- Which legacy ids the new tables do not hold exactly once, as the latest legacy version, in the table the
-- placement rule names. problem: missing (no copy), extra (a copy of no legacy row), duplicate (more than
-- one copy, e.g. in both new tables), differs (a column differs), misplaced (the wrong table). One hash join
-- of both sides, as the checksum above. Before the backfill has finished, rows it has not reached yet are
-- 'missing' by design.
-- ---------------------------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION migration_differences()
RETURNS TABLE (id uuid, problem text)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_cutoff timestamptz;
BEGIN
    SELECT coalesce(m.archive_cutoff, now() - interval '30 days') INTO v_cutoff FROM migration_state m;
    RETURN QUERY
    WITH l AS (
        SELECT t.id, hashtextextended(ROW(t.id, t.user_id, t.parent_todo_id, t.project_id, t.title::text,
                   t.description, t.status::text, t.priority, t.due_date, t.completed_at, t.ai_generated,
                   t.created_at, t.updated_at)::text, 0) AS h,
               (t.status::text = 'done' AND t.completed_at < v_cutoff) IS TRUE AS archive
        FROM todos t),
    n AS (
        SELECT u.id, count(*) AS copies, min(u.h) AS h, bool_or(u.archived) AS archived
        FROM (SELECT a.id, hashtextextended(ROW(a.id, a.user_id, a.parent_todo_id, a.project_id, a.title,
                         a.description, a.status, a.priority, a.due_date, a.completed_at, a.ai_generated,
                         a.created_at, a.updated_at)::text, 0) AS h, false AS archived
              FROM todos_active a
              UNION ALL
              SELECT r.id, hashtextextended(ROW(r.id, r.user_id, r.parent_todo_id, r.project_id, r.title,
                         r.description, r.status, r.priority, r.due_date, r.completed_at, r.ai_generated,
                         r.created_at, r.updated_at)::text, 0), true
              FROM todos_archived r) u
        GROUP BY u.id)
    SELECT coalesce(l.id, n.id),
           CASE WHEN n.id IS NULL THEN 'missing'
                WHEN l.id IS NULL THEN 'extra'
                WHEN n.copies > 1 THEN 'duplicate'
                WHEN n.h <> l.h THEN 'differs'
                ELSE 'misplaced' END
    FROM l FULL JOIN n ON n.id = l.id
    WHERE n.id IS NULL OR l.id IS NULL OR n.copies > 1 OR n.h <> l.h
       -- Archived copies of rows the rule keeps active are legitimate only once maintenance archived them,
       -- which it does not do while mirroring; the reverse is always wrong.
       OR n.archived <> l.archive;
END;
$$;

-- ---------------------------------------------------------------------------------------------
-- Repair, while the migration mirrors (states migrating and migrated): every id migration_differences()
-- names gets exactly one copy of its current legacy row, where the placement rule puts it, or no copy when
-- the legacy row is gone. The legacy rows are locked FOR SHARE in key order first (a concurrent writer of one
-- of them waits for this short transaction, and its trigger then replaces our copy, as with a batch), and
-- the copies are rebuilt in a new statement that sees every write committed before the lock. Ids are found
-- by one scan of both sides (as validation), then fixed in one transaction: run it when validation names ids.
-- Returns one row per repaired id with what was wrong and what was done.
-- ---------------------------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION migration_repair()
RETURNS TABLE (id uuid, problem text, action text)
LANGUAGE plpgsql AS $$
DECLARE
    v_state  migration_state%ROWTYPE;
    v_range  record;
    v_ids    uuid[];
    v_locked uuid[];
BEGIN
    -- FOR UPDATE: no batch runs meanwhile (batches serialise on this row too).
    SELECT * INTO v_state FROM migration_state FOR UPDATE;
    IF v_state.state NOT IN ('migrating', 'migrated') THEN
        RAISE EXCEPTION 'nothing to repair in state %: repair rebuilds copies from the legacy rows while the migration mirrors them (before cutover)', v_state.state
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = CASE WHEN v_state.state = 'cut_over' THEN 'After cutover the new tables are authoritative; the legacy rows are history.' END;
    END IF;
    PERFORM set_config('lock_timeout', '5s', true);

    CREATE TEMP TABLE IF NOT EXISTS todoscale_repair (id uuid PRIMARY KEY, problem text) ON COMMIT DROP;
    TRUNCATE todoscale_repair;
    -- Rows the backfill has not reached yet have no copy by design; the batches copy them. The lock first, as in a
    -- batch: a rewrite swapping todos' file after the range was read would misplace the cursor for this call.
    LOCK TABLE todos IN ACCESS SHARE MODE;
    SELECT * INTO v_range FROM todoscale_backfill_range(v_state);
    INSERT INTO todoscale_repair SELECT d.id, d.problem FROM migration_differences() d
    WHERE NOT (d.problem = 'missing' AND v_state.state = 'migrating'
               AND EXISTS (SELECT 1 FROM todos t WHERE t.id = d.id
                           AND t.ctid >= v_range.from_tid AND t.ctid < todoscale_tid(v_range.end_page, 0)));
    SELECT array_agg(r.id ORDER BY r.id) INTO v_ids FROM todoscale_repair r;
    IF v_ids IS NULL THEN
        RETURN;
    END IF;

    SELECT array_agg(k.id ORDER BY k.id) INTO v_locked
    FROM (SELECT t.id FROM todos t WHERE t.id = ANY (v_ids) ORDER BY t.id FOR SHARE) k;

    DELETE FROM todos_active a WHERE a.id = ANY (v_ids);
    DELETE FROM todos_archived r WHERE r.id = ANY (v_ids);
    INSERT INTO todos_active (id, user_id, parent_todo_id, project_id, title, description, status,
                              priority, due_date, completed_at, ai_generated, created_at, updated_at)
    SELECT t.id, t.user_id, t.parent_todo_id, t.project_id, t.title, t.description, t.status,
           t.priority, t.due_date, t.completed_at, t.ai_generated, t.created_at, t.updated_at
    FROM todos t WHERE t.id = ANY (coalesce(v_locked, '{}'))
      AND NOT ((t.status = 'done' AND t.completed_at < v_state.archive_cutoff) IS TRUE);
    INSERT INTO todos_archived (id, user_id, parent_todo_id, project_id, title, description, status,
                                priority, due_date, completed_at, ai_generated, created_at, updated_at)
    SELECT t.id, t.user_id, t.parent_todo_id, t.project_id, t.title, t.description, t.status,
           t.priority, t.due_date, t.completed_at, t.ai_generated, t.created_at, t.updated_at
    FROM todos t WHERE t.id = ANY (coalesce(v_locked, '{}'))
      AND (t.status = 'done' AND t.completed_at < v_state.archive_cutoff) IS TRUE;

    INSERT INTO migration_progress (step, start_time, end_time, rows_moved, status, detail)
    VALUES ('repair', now(), clock_timestamp(), cardinality(v_ids), 'done',
            format('rebuilt the copies of %s id(s) from the legacy rows', cardinality(v_ids)));

    RETURN QUERY
    SELECT r.id, r.problem,
           CASE WHEN r.id = ANY (coalesce(v_locked, '{}')) THEN 'copied from todos' ELSE 'copies removed (no legacy row)' END
    FROM todoscale_repair r ORDER BY r.problem, r.id;
END;
$$;

-- ---------------------------------------------------------------------------------------------
-- Cutover: the application switches to the new tables. Refuses unless the backfill is complete and
-- every validation check passes (p_force skips validation, never the completeness check). Stopping the
-- mirror and fencing the legacy table happen in this one short transaction; lock_timeout keeps it from
-- queueing the application behind it (the caller retries).
-- ---------------------------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION migration_cutover(p_force boolean DEFAULT false)
RETURNS TABLE (state text, cutover_at timestamptz, detail text)
LANGUAGE plpgsql AS $$
DECLARE
    v_state migration_state%ROWTYPE;
    v_failed text;
    v_missing bigint;
BEGIN
    SELECT * INTO v_state FROM migration_state FOR UPDATE;
    IF v_state.state = 'cut_over' THEN
        RETURN QUERY SELECT v_state.state, v_state.cutover_at, 'already cut over'::text;
        RETURN;
    ELSIF v_state.state <> 'migrated' THEN
        RAISE EXCEPTION 'cannot cut over in state %: the backfill must complete first (todoscale migrate run)', v_state.state
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;

    -- Even forced: the application would read tables without the indexes its queries need (seconds per query
    -- on a large table), and building them takes minutes while the legacy table still serves.
    -- The deferred names are also checked on their own, in case 005's plan is missing (psql -f 005 drops and
    -- recreates it).
    -- The archive's bookkeeping likewise: the archive page would miss a user's months and newest rows.
    SELECT migration_index_steps_left() + count(*)
    INTO v_missing
    FROM unnest(coalesce(v_state.deferred_indexes, '{}')) n
    WHERE NOT EXISTS (SELECT 1 FROM pg_index x WHERE x.indexrelid = to_regclass(quote_ident(n)) AND x.indisvalid);
    -- Its steps are in the plan while it is not complete; this only guards a plan that lost them.
    IF v_missing = 0 AND NOT todoscale_archive_bookkeeping_complete() THEN
        v_missing := 1;
    END IF;
    IF v_missing > 0 THEN
        RAISE EXCEPTION 'cannot cut over: % step(s) of the new tables'' indexes are not done yet (deferred while the backfill filled them, with the archive''s bookkeeping)', v_missing
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = format('Build them without blocking writes: todoscale migrate run, or in psql: SELECT stmt FROM migration_index_plan() ORDER BY step %sgexec (until it returns no row)', chr(92));
    END IF;

    IF NOT p_force THEN
        SELECT string_agg(format('%s (expected %s, actual %s)', v.check_name, v.expected, v.actual), '; ') INTO v_failed
        FROM validate_migration() v WHERE v.status <> 'PASS';
        IF v_failed IS NOT NULL THEN
            RAISE EXCEPTION 'validation failed, not cutting over: %', v_failed
                USING ERRCODE = 'check_violation', HINT = 'Investigate with `todoscale migrate validate`; --force skips this check.';
        END IF;
    END IF;

    PERFORM set_config('lock_timeout', '2s', true);
    PERFORM todoscale_drop_todos_trigger('todoscale_mirror');
    PERFORM todoscale_drop_todos_trigger('todoscale_readonly_after_cutover');
    CREATE TRIGGER todoscale_readonly_after_cutover BEFORE INSERT OR UPDATE OR DELETE ON todos
        FOR EACH STATEMENT EXECUTE FUNCTION todoscale_reject_legacy_write();

    UPDATE migration_state m SET state = 'cut_over', cutover_at = now();
    INSERT INTO migration_progress (step, start_time, end_time, status, detail)
    VALUES ('cutover', now(), clock_timestamp(), 'done',
            CASE WHEN p_force THEN 'forced (validation skipped); ' ELSE 'validated; ' END ||
            'mirror trigger dropped, todos is read-only, todos_active/todos_archived are authoritative');
    RETURN QUERY SELECT 'cut_over'::text, now(), 'todos is read-only; the application must use todos_active/todos_archived'::text;
END;
$$;

-- ---------------------------------------------------------------------------------------------
-- Rollback, in one transaction.
-- After cutover: `todos` becomes exactly todos_active ∪ todos_archived as they are now (writes made after
-- cutover included). Changed and new rows are upserted (ON CONFLICT (id): the rows todos still holds are
-- updated, never duplicated, and unchanged rows are not rewritten), then rows no longer present are
-- deleted. Upserting first matters: todos.parent_todo_id is ON DELETE CASCADE, so deleting a parent
-- before its children were re-pointed would cascade into rows that must stay. References the legacy
-- foreign keys would reject (a parent or project that no longer exists) stop the rollback with a count
-- instead of a half-restored table.
-- Before cutover the legacy table is still the source of truth and untouched: rollback only stops the
-- mirror and empties the new tables (copies that the application never wrote to).
-- p_drop_new_tables drops todos_active and todos_archived afterwards, in the same transaction.
-- ---------------------------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION migration_rollback(p_drop_new_tables boolean DEFAULT false)
RETURNS TABLE (step text, affected_rows bigint)
LANGUAGE plpgsql AS $$
DECLARE
    v_state migration_state%ROWTYPE;
    v_n bigint;
    v_index record;
    v_part record;
BEGIN
    SELECT * INTO v_state FROM migration_state FOR UPDATE;
    IF v_state.state = 'not_started' THEN
        RAISE EXCEPTION 'no migration has started: nothing to roll back' USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    IF to_regclass('todos') IS NULL THEN
        RAISE EXCEPTION 'there is no legacy todos table to roll back to' USING ERRCODE = 'undefined_table';
    END IF;

    PERFORM set_config('lock_timeout', '5s', true);
    IF v_state.state = 'cut_over' THEN
        -- Writers of the new tables wait until we commit; readers carry on.
        LOCK TABLE todos_active, todos_archived IN SHARE MODE;
        LOCK TABLE todos IN SHARE ROW EXCLUSIVE MODE;
    END IF;
    -- Mirroring first: our own writes to todos must not echo back into the new tables.
    PERFORM todoscale_drop_todos_trigger('todoscale_mirror');
    PERFORM todoscale_drop_todos_trigger('todoscale_readonly_after_cutover');

    IF v_state.state = 'cut_over' THEN
        SELECT count(*) INTO v_n
        FROM (SELECT a.parent_todo_id FROM todos_active a UNION ALL SELECT r.parent_todo_id FROM todos_archived r) c
        WHERE c.parent_todo_id IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM todos_active a WHERE a.id = c.parent_todo_id)
          AND NOT EXISTS (SELECT 1 FROM todos_archived r WHERE r.id = c.parent_todo_id);
        IF v_n > 0 THEN
            RAISE EXCEPTION 'rollback refused: % row(s) in the new tables reference a parent todo that no longer exists; todos.parent_todo_id would reject them', v_n
                USING ERRCODE = 'foreign_key_violation', HINT = 'Set their parent_todo_id to NULL (or delete them) in todos_active/todos_archived, then roll back again.';
        END IF;
        SELECT count(*) INTO v_n
        FROM (SELECT a.project_id FROM todos_active a UNION ALL SELECT r.project_id FROM todos_archived r) c
        WHERE c.project_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM projects p WHERE p.id = c.project_id);
        IF v_n > 0 THEN
            RAISE EXCEPTION 'rollback refused: % row(s) in the new tables reference a project that no longer exists; todos.project_id would reject them', v_n
                USING ERRCODE = 'foreign_key_violation', HINT = 'Set their project_id to NULL in todos_active/todos_archived, then roll back again.';
        END IF;

        INSERT INTO todos AS t (id, user_id, parent_todo_id, project_id, title, description, status, priority,
                                due_date, completed_at, ai_generated, created_at, updated_at)
        SELECT u.id, u.user_id, u.parent_todo_id, u.project_id, u.title, u.description, u.status, u.priority,
               u.due_date, u.completed_at, u.ai_generated, u.created_at, u.updated_at
        FROM (SELECT a.id, a.user_id, a.parent_todo_id, a.project_id, a.title, a.description, a.status, a.priority,
                     a.due_date, a.completed_at, a.ai_generated, a.created_at, a.updated_at FROM todos_active a
              UNION ALL
              SELECT r.id, r.user_id, r.parent_todo_id, r.project_id, r.title, r.description, r.status, r.priority,
                     r.due_date, r.completed_at, r.ai_generated, r.created_at, r.updated_at FROM todos_archived r) u
        ON CONFLICT (id) DO UPDATE SET
            user_id = EXCLUDED.user_id, parent_todo_id = EXCLUDED.parent_todo_id, project_id = EXCLUDED.project_id,
            title = EXCLUDED.title, description = EXCLUDED.description, status = EXCLUDED.status,
            priority = EXCLUDED.priority, due_date = EXCLUDED.due_date, completed_at = EXCLUDED.completed_at,
            ai_generated = EXCLUDED.ai_generated, created_at = EXCLUDED.created_at, updated_at = EXCLUDED.updated_at
        WHERE (t.user_id, t.parent_todo_id, t.project_id, t.title::text, t.description, t.status::text, t.priority,
               t.due_date, t.completed_at, t.ai_generated, t.created_at, t.updated_at)
              IS DISTINCT FROM
              (EXCLUDED.user_id, EXCLUDED.parent_todo_id, EXCLUDED.project_id, EXCLUDED.title::text, EXCLUDED.description,
               EXCLUDED.status::text, EXCLUDED.priority, EXCLUDED.due_date, EXCLUDED.completed_at, EXCLUDED.ai_generated,
               EXCLUDED.created_at, EXCLUDED.updated_at);
        GET DIAGNOSTICS v_n = ROW_COUNT;
        RETURN QUERY SELECT 'upserted_into_todos'::text, v_n;

        DELETE FROM todos t
        WHERE NOT EXISTS (SELECT 1 FROM todos_active a WHERE a.id = t.id)
          AND NOT EXISTS (SELECT 1 FROM todos_archived r WHERE r.id = t.id);
        GET DIAGNOSTICS v_n = ROW_COUNT;
        RETURN QUERY SELECT 'deleted_from_todos'::text, v_n;
    ELSIF v_state.state IN ('migrating', 'migrated') THEN
        SELECT (SELECT count(*) FROM todos_active) + (SELECT count(*) FROM todos_archived) INTO v_n;
        TRUNCATE todos_active, todos_archived;
        RETURN QUERY SELECT 'copies_removed_from_new_tables'::text, v_n;
        -- 009's bookkeeping runs again (the TRUNCATE above emptied its tables through its truncate trigger).
        IF todoscale_archive_bookkeeping_resume() THEN
            RETURN QUERY SELECT 'archive_bookkeeping_resumed'::text, 0::bigint;
        END IF;
        -- Nothing to rebuild in an empty archive (paused or halfway): the page may read its (empty) recent rows again.
        IF (SELECT m.archive_bookkeeping FROM migration_state m) IS NOT NULL THEN
            EXECUTE 'SELECT todoscale_archive_recent_mark_ready()';
            UPDATE migration_state SET archive_bookkeeping = NULL;
        END IF;
        -- The secondary indexes migration_start() deferred: instant on the emptied tables, and the tables are as
        -- they were before the migration (a later start defers them again).
        IF NOT p_drop_new_tables AND to_regproc('todoscale_ensure_partitioned_index') IS NOT NULL THEN
            v_n := 0;
            FOR v_index IN
                SELECT d.index_name, d.parent_table, d.definition FROM todoscale_index_definitions() d
                WHERE d.index_name = ANY (v_state.deferred_indexes)
            LOOP
                -- From scratch: an interrupted build may have left the parent INVALID or partitions' indexes unattached.
                EXECUTE format('DROP INDEX IF EXISTS %I', v_index.index_name);
                FOR v_part IN SELECT i.inhrelid::regclass AS part, c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                              WHERE i.inhparent = v_index.parent_table::regclass LOOP
                    EXECUTE format('DROP INDEX IF EXISTS %I', todoscale_partition_index_name(v_index.index_name, v_part.relname));
                END LOOP;
                EXECUTE 'SELECT todoscale_ensure_partitioned_index($1, $2, $3)'
                    USING v_index.parent_table::regclass, v_index.index_name, v_index.definition;
                v_n := v_n + 1;
            END LOOP;
            RETURN QUERY SELECT 'deferred_indexes_rebuilt'::text, v_n;
        END IF;
    END IF;

    IF p_drop_new_tables THEN
        DROP TABLE IF EXISTS todos_active, todos_archived;
        RETURN QUERY SELECT 'dropped_todos_active_and_todos_archived'::text, 0::bigint;
    END IF;

    IF v_state.state <> 'rolled_back' THEN
        UPDATE migration_state m SET state = 'rolled_back', rolled_back_at = now();
        INSERT INTO migration_progress (step, start_time, end_time, status, detail)
        VALUES ('rollback', now(), clock_timestamp(), 'done',
                format('rolled back from %s%s', v_state.state, CASE WHEN p_drop_new_tables THEN '; new tables dropped' ELSE '' END));
    END IF;
END;
$$;

-- ---------------------------------------------------------------------------------------------
-- The psql path: migrate everything now, one committed batch at a time. Skipped (definitions only)
-- under our migrator, which runs this file inside a transaction, and when there is no legacy table.
-- ---------------------------------------------------------------------------------------------
CREATE OR REPLACE PROCEDURE todoscale_migrate_on_install()
LANGUAGE plpgsql AS $$
DECLARE
    v_state text;
BEGIN
    IF current_setting('todoscale.migrator', true) = 'on' THEN
        RAISE NOTICE 'applied by the todoscale migrator: definitions installed; move the data with `todoscale migrate run`';
        RETURN;
    END IF;
    IF to_regclass('todos') IS NULL THEN
        RAISE NOTICE 'no legacy todos table: definitions installed, nothing to migrate';
        RETURN;
    END IF;
    SELECT m.state INTO v_state FROM migration_state m;
    IF v_state IN ('cut_over', 'rolled_back') THEN
        RAISE NOTICE 'migration state is %: nothing to do', v_state;
        RETURN;
    END IF;
    -- Commit the start (mirror trigger) on its own so the first batch does not hold its lock on todos.
    PERFORM migration_start();
    COMMIT;
    CALL migrate_todos();
END;
$$;

RESET client_min_messages;
RESET lock_timeout;

CALL todoscale_migrate_on_install();

-- todoscale:outside-transaction begin
-- The secondary indexes migration_start() deferred, built once the backfill above is complete: psql runs
-- each statement at top level (one partition at a time; CREATE INDEX CONCURRENTLY above the plain bound). Nothing while a backfill
-- is still running, or before 005 is installed (it builds them itself then). The migrator runs this section
-- after the rest of the script has committed. Twice: the first pass ends by resuming the archive's bookkeeping
-- (009), and what comes after the resume is planned from the state it leaves.
SELECT stmt FROM migration_index_plan() ORDER BY step \gexec
SELECT stmt FROM migration_index_plan() ORDER BY step \gexec
-- todoscale:outside-transaction end
