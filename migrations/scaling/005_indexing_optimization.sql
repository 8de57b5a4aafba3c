-- TodoScale phase 5: the indexes the application's queries need.
--
-- Run with: psql -v ON_ERROR_STOP=1 -f migrations/scaling/005_indexing_optimization.sql
-- Every index is declared on the parent table, so every partition has it, including partitions that
-- maintenance creates later. Running it again is a no-op.

SET lock_timeout = '5s';
SET client_min_messages = warning;

-- Declares index p_name on a partitioned table one partition at a time: the parent index is created
-- ON ONLY the parent (no scan), then each partition's index is built and attached. A partition that
-- already has the index is skipped, so a re-run (or a run after an interrupted one) only builds what is
-- missing. Writes to a partition wait while its index builds (seconds on todos_active, which holds only
-- the active set); the lock_timeout above makes the script fail fast rather than queue behind a long
-- transaction, and the operator simply runs it again.
--
-- Partition indexes are named after the parent index (idx_todos_active_user_status_priority_p3,
-- idx_todos_archived_user_completed_2026_01), so EXPLAIN shows which index a query uses.
-- p_definition is the column list and optional WHERE clause, e.g. '(user_id, status) WHERE ...'.
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

        v_child_name := p_name || '_' || CASE
            WHEN v_part.relname ~ '_part_\d+$' THEN 'p' || substring(v_part.relname from '_part_(\d+)$')
            WHEN v_part.relname ~ '_\d{4}_\d{2}$' THEN substring(v_part.relname from '(\d{4}_\d{2})$')
            ELSE regexp_replace(v_part.relname, '^.*_', '')
        END;
        EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON %s %s', v_child_name, v_part.oid::regclass, p_definition);
        EXECUTE format('ALTER INDEX %I ATTACH PARTITION %I', p_name, v_child_name);
    END LOOP;
END;
$$;

DO $$
BEGIN
    -- todos_active: every query carries user_id first, so each index leads with it and a query prunes to
    -- one partition and then reads one user's slice of that partition's index.
    PERFORM todoscale_ensure_partitioned_index('todos_active', 'idx_todos_active_user_status_priority',
        '(user_id, status, priority DESC, created_at DESC, id DESC)');
    PERFORM todoscale_ensure_partitioned_index('todos_active', 'idx_todos_active_user_priority_created',
        '(user_id, priority DESC, created_at DESC, id DESC)');
    PERFORM todoscale_ensure_partitioned_index('todos_active', 'idx_todos_active_user_due',
        '(user_id, due_date) WHERE due_date IS NOT NULL AND status <> ''done''');
    PERFORM todoscale_ensure_partitioned_index('todos_active', 'idx_todos_active_user_project',
        '(user_id, project_id) WHERE project_id IS NOT NULL');
    PERFORM todoscale_ensure_partitioned_index('todos_active', 'idx_todos_active_user_parent',
        '(user_id, parent_todo_id) WHERE parent_todo_id IS NOT NULL');
    -- The dashboard (counts of open todos by status, overdue, due today / this week, next due) reads only
    -- this index: it holds exactly the open rows, in due order, with status carried along, so a heavy
    -- user's counts are an index-only scan over a few leaf pages instead of one heap page per open todo
    -- (~1,500 scattered heap pages for a heavy user, the cost the benchmark measured on a single table).
    -- Index-only scans need the visibility map, which VACUUM of the (small) active partitions keeps set.
    PERFORM todoscale_ensure_partitioned_index('todos_active', 'idx_todos_active_user_open_due_cover',
        '(user_id, due_date) INCLUDE (status) WHERE status IN (''todo'', ''in_progress'')');
    -- The dashboard's "completed this week": an index-only count of one user's recent done rows.
    PERFORM todoscale_ensure_partitioned_index('todos_active', 'idx_todos_active_user_done_completed',
        '(user_id, completed_at) WHERE status = ''done''');
    -- A user's list, newest first (also the active half of the list that includes the archive).
    PERFORM todoscale_ensure_partitioned_index('todos_active', 'idx_todos_active_user_created',
        '(user_id, created_at DESC, id DESC)');
    -- Archival finds its rows through this index instead of scanning every partition.
    PERFORM todoscale_ensure_partitioned_index('todos_active', 'idx_todos_active_done_completed',
        '(completed_at) WHERE status = ''done''');

    -- todos_archived: a user's history, newest first; lookups by id use the primary key (id, completed_at).
    PERFORM todoscale_ensure_partitioned_index('todos_archived', 'idx_todos_archived_user_completed',
        '(user_id, completed_at DESC)');
    -- The archive half of a user's list newest first: each month's partition stops after one page of rows.
    PERFORM todoscale_ensure_partitioned_index('todos_archived', 'idx_todos_archived_user_created',
        '(user_id, created_at DESC, id DESC)');
    PERFORM todoscale_ensure_partitioned_index('todos_archived', 'idx_todos_archived_user_parent',
        '(user_id, parent_todo_id) WHERE parent_todo_id IS NOT NULL');

    -- ai_todo_interactions: a todo's interactions and a user's recent ones.
    PERFORM todoscale_ensure_partitioned_index('ai_todo_interactions', 'idx_ai_interactions_user_todo',
        '(user_id, todo_id, created_at DESC)');
    PERFORM todoscale_ensure_partitioned_index('ai_todo_interactions', 'idx_ai_interactions_user_created',
        '(user_id, created_at DESC)');
END;
$$;

ANALYZE todos_active;

RESET client_min_messages;
RESET lock_timeout;
