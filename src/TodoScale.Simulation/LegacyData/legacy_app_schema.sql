-- The application's database as it is before TodoScale: one todos table that holds every todo a user
-- ever had, with a primary key and an index on user_id. Used by `todoscale demo`, the benchmarks and the
-- tests to stand in for a real application database. Idempotent.
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

CREATE TABLE IF NOT EXISTS todos (
    id             uuid         PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id        uuid         NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    parent_todo_id uuid         REFERENCES todos (id) ON DELETE CASCADE,
    project_id     uuid         REFERENCES projects (id) ON DELETE SET NULL,
    title          varchar(500) NOT NULL,
    description    text,
    status         varchar(20)  NOT NULL DEFAULT 'todo',
    priority       integer      NOT NULL DEFAULT 0,
    due_date       timestamptz,
    completed_at   timestamptz,
    ai_generated   boolean      NOT NULL DEFAULT false,
    created_at     timestamptz  NOT NULL DEFAULT now(),
    updated_at     timestamptz  NOT NULL DEFAULT now()
);

CREATE INDEX IF NOT EXISTS idx_todos_user_id ON todos (user_id);
