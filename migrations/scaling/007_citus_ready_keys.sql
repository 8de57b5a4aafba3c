-- TodoScale 007: keys and constraints that Citus accepts, so that `migrations/citus/distribute.sql`
-- (`todoscale db distribute`) can later spread the tables over workers by user_id without changing them.
--
-- Run with: psql -v ON_ERROR_STOP=1 -f migrations/scaling/007_citus_ready_keys.sql
-- Needs 001 (and its Citus helpers todoscale_citus_table_type, todoscale_is_distributed). Running it again is a no-op. On a single node it changes no query plan the application uses
-- and keeps every guarantee; what it changes and why:
--
-- 1. Citus refuses a PRIMARY KEY or UNIQUE constraint that does not contain the distribution column
--    (user_id): "cannot create constraint on ...: Distributed relations cannot have UNIQUE, EXCLUDE, or
--    PRIMARY KEY constraints that do not include the partition column". The keys gain user_id as their
--    LAST column: todos_archived (id, completed_at, user_id), ai_todo_interactions (id, created_at, user_id).
--    Kept first, id still leads the index, so every lookup by id alone (the migration's mirror trigger,
--    validation, repair and rollback in 002) keeps using it exactly as before. The key is wider by 16
--    bytes per entry; uniqueness is the same in practice (ids are random uuids; the old keys already
--    allowed one id per month of completion).
-- 2. projects (id) becomes (id, user_id) for the same reason, but only when nothing references
--    projects(id): the legacy application's `todos.project_id REFERENCES projects (id)` needs that key
--    for as long as the legacy table lives. distribute.sql drops that foreign key (the legacy table is
--    read-only after cutover) and then calls todoscale_citus_projects_key() itself.
-- 3. todos_active's CHECK on status moves from the partitioned parent to each of its 16 partitions (same
--    condition, same enforcement: every row lives in a partition). Citus names a shard's constraints
--    after the shard, so the parent shard's CHECK and its partition shards' copies get different names,
--    and attaching them fails: "child table is missing constraint todos_active_status_check_102026",
--    both in create_reference_table('users') (which turns the tables that reference users into Citus
--    local tables) and in create_distributed_table_concurrently('todos_active'). A constraint that only
--    the partitions carry is never compared.
-- 4. updated_at: the trigger todos_active_touch_updated_at stays on a single node. Citus refuses to
--    distribute a table with triggers unless citus.enable_unsafe_triggers is on, so the application's
--    UPDATE statements (TodoQueries) set updated_at = now() themselves, and distribute.sql drops the
--    trigger: the behaviour is the same on both layouts without any unsafe setting.
--
-- Cost on a live single node: the key changes rebuild the primary key index of todos_archived and
-- ai_todo_interactions (every partition) and hold their ACCESS EXCLUSIVE lock while doing so, so reads
-- and writes of those two tables (not of todos_active) wait for the rebuild; the CHECK move scans each
-- todos_active partition once (validation) and holds its lock meanwhile. Run it at a quiet time on a
-- large archive. Every step waits at most lock_timeout (5 s) for its lock and then fails, leaving the
-- database as it was (one transaction): run it again.

SET lock_timeout = '5s';
SET client_min_messages = warning;

-- Replaces p_table's primary key by one on p_columns (same constraint name) unless it already is one.
CREATE OR REPLACE FUNCTION todoscale_replace_primary_key(p_table regclass, p_columns text[]) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    v_name    text;
    v_current text[];
BEGIN
    SELECT c.conname, ARRAY(SELECT a.attname::text FROM unnest(c.conkey) WITH ORDINALITY k(attnum, n)
                            JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum ORDER BY k.n)
    INTO v_name, v_current
    FROM pg_constraint c WHERE c.conrelid = p_table AND c.contype = 'p';
    IF v_current = p_columns THEN
        RETURN false;
    END IF;
    v_name := coalesce(v_name, (SELECT relname FROM pg_class WHERE oid = p_table) || '_pkey');
    EXECUTE format('ALTER TABLE %s DROP CONSTRAINT IF EXISTS %I, ADD CONSTRAINT %I PRIMARY KEY (%s)',
                   p_table, v_name, v_name, (SELECT string_agg(quote_ident(c), ', ') FROM unnest(p_columns) c));
    RETURN true;
END;
$$;

-- projects (id) -> (id, user_id), unless a foreign key still needs projects(id) alone (the legacy todos
-- table's project_id): returns what it did, for 007's NOTICE and distribute.sql's progress.
CREATE OR REPLACE FUNCTION todoscale_citus_projects_key() RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    v_referencing text;
BEGIN
    SELECT string_agg(format('%s.%s', f.conrelid::regclass, f.conname), ', ') INTO v_referencing
    FROM pg_constraint f
    JOIN pg_constraint k ON k.conindid = f.conindid AND k.conrelid = 'projects'::regclass AND k.contype = 'p'
    WHERE f.contype = 'f' AND f.confrelid = 'projects'::regclass;
    IF v_referencing IS NOT NULL THEN
        RETURN format('projects keeps its key (id): %s references it', v_referencing);
    END IF;
    IF todoscale_replace_primary_key('projects'::regclass, ARRAY['id', 'user_id']) THEN
        RETURN 'projects key is now (id, user_id)';
    END IF;
    RETURN 'projects key is (id, user_id)';
END;
$$;

DO $$
DECLARE
    v_part record;
BEGIN
    PERFORM todoscale_replace_primary_key('todos_archived'::regclass, ARRAY['id', 'completed_at', 'user_id']);
    PERFORM todoscale_replace_primary_key('ai_todo_interactions'::regclass, ARRAY['id', 'created_at', 'user_id']);
    RAISE NOTICE '%', todoscale_citus_projects_key();

    -- The status CHECK, from the parent to each partition (3. above). Added NOT VALID and then validated:
    -- the same scan, but VALIDATE is the step that can be named when it finds a row the parent's CHECK
    -- somehow let through.
    IF EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = 'todos_active'::regclass AND contype = 'c'
               AND conname = 'todos_active_status_check') THEN
        FOR v_part IN SELECT c.oid::regclass AS rel, c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                      WHERE i.inhparent = 'todos_active'::regclass ORDER BY c.relname LOOP
            IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = v_part.rel AND conname = v_part.relname || '_status_check') THEN
                EXECUTE format('ALTER TABLE %s ADD CONSTRAINT %I CHECK (status IN (''todo'', ''in_progress'', ''done'', ''cancelled'')) NOT VALID',
                               v_part.rel, v_part.relname || '_status_check');
                EXECUTE format('ALTER TABLE %s VALIDATE CONSTRAINT %I', v_part.rel, v_part.relname || '_status_check');
            END IF;
        END LOOP;
        ALTER TABLE todos_active DROP CONSTRAINT todos_active_status_check;
    END IF;
END;
$$;

RESET client_min_messages;
RESET lock_timeout;
