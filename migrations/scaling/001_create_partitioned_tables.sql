-- TodoScale phase 1: the partitioned layout.
--
-- Run with: psql -v ON_ERROR_STOP=1 -f migrations/scaling/001_create_partitioned_tables.sql
-- Works on an empty database and on the application's existing database (users, projects and the
-- legacy todos table stay as they are). Running it again is a no-op.

-- A live application holds locks on users/projects; DDL that cannot get its lock quickly fails
-- (the operator re-runs the idempotent script) instead of queueing every application query behind it.
SET lock_timeout = '5s';
SET client_min_messages = warning;

-- ---------------------------------------------------------------------------------------------
-- users and projects: created only when the application does not already have them.
-- ---------------------------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS users (
    id           uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    email        text        NOT NULL UNIQUE,
    display_name text,
    created_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS projects (
    id          uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id     uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name        text        NOT NULL,
    description text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS idx_projects_user ON projects (user_id);

-- ---------------------------------------------------------------------------------------------
-- Shared helpers
-- ---------------------------------------------------------------------------------------------

-- updated_at follows every update unless the statement sets it itself: copies made by the
-- migration, archival and rollback carry the legacy value over unchanged.
CREATE OR REPLACE FUNCTION todoscale_touch_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.updated_at IS NOT DISTINCT FROM OLD.updated_at THEN
        NEW.updated_at := now();
    END IF;
    RETURN NEW;
END;
$$;

-- Whether p_table is a Citus distributed (hash) or reference table. False on a server without Citus.
-- Here because every later script uses it: 001 (triggers), 002 (preflight), 007, the maintenance files and
-- migrations/citus/distribute.sql.
CREATE OR REPLACE FUNCTION todoscale_citus_table_type(p_table regclass) RETURNS text
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_type text;
BEGIN
    IF p_table IS NULL OR to_regclass('pg_catalog.pg_dist_partition') IS NULL THEN
        RETURN NULL;
    END IF;
    EXECUTE 'SELECT CASE partmethod WHEN ''h'' THEN ''distributed'' WHEN ''n'' THEN
                 CASE repmodel WHEN ''t'' THEN ''reference'' ELSE ''local'' END END
             FROM pg_catalog.pg_dist_partition WHERE logicalrelid = $1'
        INTO v_type USING p_table;
    RETURN v_type;
END;
$$;

-- True when todos_active is distributed by Citus: the maintenance functions take their Citus path then.
CREATE OR REPLACE FUNCTION todoscale_is_distributed() RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT coalesce(todoscale_citus_table_type(to_regclass('todos_active')) = 'distributed', false);
$$;

-- Creates the monthly partition of a range-partitioned table (todos_archived, ai_todo_interactions)
-- that holds p_month, named PARENT_YYYY_MM, with bounds in UTC. Rows of that month already sitting in
-- the DEFAULT partition are moved into it in the same transaction: PostgreSQL refuses to create a
-- partition whose rows are in the default, which is how pg_partman installations get stuck.
-- Returns true when it created the partition.
CREATE OR REPLACE FUNCTION todoscale_create_month_partition(p_parent regclass, p_month date)
RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    v_parent   text := (SELECT relname FROM pg_class WHERE oid = p_parent);
    v_schema   text := (SELECT nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                        WHERE c.oid = p_parent);
    v_start    timestamptz := (date_trunc('month', p_month::timestamp) AT TIME ZONE 'UTC');
    v_end      timestamptz := ((date_trunc('month', p_month::timestamp) + interval '1 month') AT TIME ZONE 'UTC');
    v_name     text := v_parent || '_' || to_char(p_month, 'YYYY_MM');
    v_key      text;
    v_default  regclass;
    v_moved    bigint := 0;
    v_tmp      text := 'todoscale_default_rows_' || to_char(p_month, 'YYYY_MM');
BEGIN
    IF to_regclass(format('%I.%I', v_schema, v_name)) IS NOT NULL THEN
        RETURN false;
    END IF;

    SELECT a.attname INTO v_key
    FROM pg_partitioned_table pt
    JOIN pg_attribute a ON a.attrelid = pt.partrelid AND a.attnum = pt.partattrs[0]
    WHERE pt.partrelid = p_parent;

    SELECT c.oid::regclass INTO v_default
    FROM pg_partitioned_table pt JOIN pg_class c ON c.oid = pt.partdefid
    WHERE pt.partrelid = p_parent;

    IF v_default IS NOT NULL THEN
        -- Park the month's rows outside the default so the new partition can be created, then put
        -- them back through the parent: one transaction, so no reader ever sees them missing.
        EXECUTE format('CREATE TEMP TABLE %I (LIKE %s) ON COMMIT DROP', v_tmp, p_parent);
        EXECUTE format('WITH moved AS (DELETE FROM %s WHERE %I >= $1 AND %I < $2 RETURNING *)
                        INSERT INTO %I SELECT * FROM moved', v_default, v_key, v_key, v_tmp)
            USING v_start, v_end;
        GET DIAGNOSTICS v_moved = ROW_COUNT;
    END IF;

    EXECUTE format('CREATE TABLE %I.%I PARTITION OF %s FOR VALUES FROM (%L) TO (%L)',
                   v_schema, v_name, p_parent, v_start, v_end);

    IF v_default IS NOT NULL THEN
        IF v_moved > 0 THEN
            EXECUTE format('INSERT INTO %s SELECT * FROM %I', p_parent, v_tmp);
        END IF;
        EXECUTE format('DROP TABLE %I', v_tmp);
    END IF;
    RETURN true;
END;
$$;

-- ---------------------------------------------------------------------------------------------
-- todos_active: open and recently finished todos, hash-partitioned by user so that every query of
-- one user's todos touches one of 16 small partitions.
-- The 13 columns match the legacy todos table with types that hold every legacy value unchanged.
-- ---------------------------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS todos_active (
    id             uuid        NOT NULL DEFAULT gen_random_uuid(),
    user_id        uuid        NOT NULL,
    parent_todo_id uuid,
    project_id     uuid,
    title          text        NOT NULL,
    description    text,
    status         text        NOT NULL DEFAULT 'todo',
    priority       integer     NOT NULL DEFAULT 0,
    due_date       timestamptz,
    completed_at   timestamptz,
    ai_generated   boolean     NOT NULL DEFAULT false,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT todos_active_pkey PRIMARY KEY (user_id, id),
    CONSTRAINT todos_active_status_check CHECK (status IN ('todo', 'in_progress', 'done', 'cancelled'))
) PARTITION BY HASH (user_id);

DO $$
BEGIN
    FOR i IN 0..15 LOOP
        EXECUTE format('CREATE TABLE IF NOT EXISTS todos_active_part_%s PARTITION OF todos_active
                            FOR VALUES WITH (MODULUS 16, REMAINDER %s)', i, i);
    END LOOP;
END;
$$;

-- ---------------------------------------------------------------------------------------------
-- todos_archived: done todos older than the archive window, one partition per month of completion.
-- Closed months never change again, so backups and vacuum skip them.
-- ---------------------------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS todos_archived (
    id             uuid        NOT NULL,
    user_id        uuid        NOT NULL,
    parent_todo_id uuid,
    project_id     uuid,
    title          text        NOT NULL,
    description    text,
    status         text        NOT NULL,
    priority       integer     NOT NULL,
    due_date       timestamptz,
    completed_at   timestamptz NOT NULL,
    ai_generated   boolean     NOT NULL DEFAULT false,
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL,
    archived_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT todos_archived_pkey PRIMARY KEY (id, completed_at)
) PARTITION BY RANGE (completed_at);

CREATE TABLE IF NOT EXISTS todos_archived_default PARTITION OF todos_archived DEFAULT;

-- ---------------------------------------------------------------------------------------------
-- ai_todo_interactions: the AI assistant's log, one partition per month.
-- No foreign key to the todo: todos move between todos_active and todos_archived.
-- ---------------------------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS ai_todo_interactions (
    id                uuid        NOT NULL DEFAULT gen_random_uuid(),
    user_id           uuid        NOT NULL,
    todo_id           uuid,
    interaction_type  text        NOT NULL,
    prompt            text,
    response          text,
    model             text,
    prompt_tokens     integer,
    completion_tokens integer,
    latency_ms        integer,
    created_at        timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT ai_todo_interactions_pkey PRIMARY KEY (id, created_at)
) PARTITION BY RANGE (created_at);

CREATE TABLE IF NOT EXISTS ai_todo_interactions_default PARTITION OF ai_todo_interactions DEFAULT;

-- The current month and the next three, for both range-partitioned tables.
DO $$
DECLARE
    m date;
BEGIN
    FOR k IN 0..3 LOOP
        m := (date_trunc('month', now() AT TIME ZONE 'UTC') + make_interval(months => k))::date;
        PERFORM todoscale_create_month_partition('todos_archived'::regclass, m);
        PERFORM todoscale_create_month_partition('ai_todo_interactions'::regclass, m);
    END LOOP;
END;
$$;

-- ---------------------------------------------------------------------------------------------
-- Triggers and foreign keys
-- ---------------------------------------------------------------------------------------------
-- Not on a table Citus distributes: Citus refuses triggers there (unless citus.enable_unsafe_triggers),
-- and distribute.sql drops this one; the application's UPDATEs set updated_at themselves (see 007).
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'todos_active_touch_updated_at'
                   AND tgrelid = 'todos_active'::regclass)
       AND todoscale_citus_table_type('todos_active'::regclass) IS NULL THEN
        CREATE TRIGGER todos_active_touch_updated_at BEFORE UPDATE ON todos_active
            FOR EACH ROW EXECUTE FUNCTION todoscale_touch_updated_at();
    END IF;
END;
$$;

-- Foreign keys to users wherever PostgreSQL allows (a partitioned table may reference a plain one).
-- Added only when the application's users table has a unique id, which it may not in a legacy schema.
-- Todo-to-todo references (parent) cannot be enforced across partitions: the application checks them.
DO $$
DECLARE
    v_users_has_unique_id boolean;
BEGIN
    SELECT EXISTS (
        SELECT 1 FROM pg_index x JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = x.indkey[0]
        WHERE x.indrelid = 'users'::regclass AND x.indisunique AND x.indnkeyatts = 1 AND a.attname = 'id'
    ) INTO v_users_has_unique_id;

    IF v_users_has_unique_id THEN
        IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'todos_active_user_fk') THEN
            ALTER TABLE todos_active ADD CONSTRAINT todos_active_user_fk
                FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE;
        END IF;
        IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'todos_archived_user_fk') THEN
            ALTER TABLE todos_archived ADD CONSTRAINT todos_archived_user_fk
                FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE;
        END IF;
        IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'ai_todo_interactions_user_fk') THEN
            ALTER TABLE ai_todo_interactions ADD CONSTRAINT ai_todo_interactions_user_fk
                FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE;
        END IF;
    END IF;
END;
$$;

RESET client_min_messages;
RESET lock_timeout;
