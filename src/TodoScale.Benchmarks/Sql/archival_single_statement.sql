-- Variant (a) of `todoscale bench archival`, the limit the batched forms are measured against: every done todo
-- older than $1 days moved by one statement in one transaction (no batches, no SKIP LOCKED, every row lock held
-- until the commit). The columns are those archival copies, archived_at being the time of the move.
WITH d AS (
    DELETE FROM todos_active
    WHERE status = 'done' AND completed_at < now() - make_interval(days => $1)
    RETURNING *
)
INSERT INTO todos_archived (id, user_id, parent_todo_id, project_id, title, description, status, priority,
                            due_date, completed_at, ai_generated, created_at, updated_at, archived_at)
SELECT id, user_id, parent_todo_id, project_id, title, description, status, priority,
       due_date, completed_at, ai_generated, created_at, updated_at, now()
FROM d
