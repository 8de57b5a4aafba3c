-- STAND-IN for the real migration (migrations/scaling/002, migrate_todos_batch / MigrationRunner) until it is
-- merged: the benchmark only needs the TodoScale layout filled with the same rows. Done todos completed more
-- than 30 days ago go to todos_archived (one partition per completion month), everything else to todos_active.
-- Rows are inserted in id order (random uuids), i.e. NOT grouped by user, as a batched migration by id leaves
-- them; the benchmark measures the layout before and after clustering separately.
-- Idempotent: copies only into empty tables.
SET client_min_messages = warning;

DO $$
DECLARE
    m date;
BEGIN
    FOR m IN
        SELECT DISTINCT date_trunc('month', completed_at AT TIME ZONE 'UTC')::date
        FROM todos
        WHERE status = 'done' AND completed_at < now() - interval '30 days'
    LOOP
        PERFORM todoscale_create_month_partition('todos_archived'::regclass, m);
    END LOOP;
END;
$$;

INSERT INTO todos_active (id, user_id, parent_todo_id, project_id, title, description, status, priority,
                          due_date, completed_at, ai_generated, created_at, updated_at)
SELECT id, user_id, parent_todo_id, project_id, title, description, status, priority,
       due_date, completed_at, ai_generated, created_at, updated_at
FROM todos
WHERE NOT (status = 'done' AND completed_at < now() - interval '30 days')
  AND NOT EXISTS (SELECT 1 FROM todos_active)
ORDER BY id;

INSERT INTO todos_archived (id, user_id, parent_todo_id, project_id, title, description, status, priority,
                            due_date, completed_at, ai_generated, created_at, updated_at, archived_at)
SELECT id, user_id, parent_todo_id, project_id, title, description, status, priority,
       due_date, completed_at, ai_generated, created_at, updated_at, now()
FROM todos
WHERE status = 'done' AND completed_at < now() - interval '30 days'
  AND NOT EXISTS (SELECT 1 FROM todos_archived)
ORDER BY id;

RESET client_min_messages;
