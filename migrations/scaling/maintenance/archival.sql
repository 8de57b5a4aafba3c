-- TodoScale phase 3, archival: done todos older than archive_after_days move from todos_active to
-- todos_archived, each row in exactly one of the two tables at every moment.
--
-- Included by 003_create_maintenance_jobs.sql (psql \ir), after bookkeeping.sql. Run 003, not this file.
--
-- Entry points:
--   archive_completed_todos(days, batch_size)    the guide's function: one transaction, returns rows moved
--   todoscale_archive(days, batch_size)          the same for the daily job (run_daily_maintenance, jobs.sql)
--   CALL archive_completed_todos_in_batches(days, batch_size, throttle, target, ...)
--                                                a backlog of millions: one COMMIT per batch, sized
--                                                and paused by the batch engine (engine.sql)
-- A function is one transaction: its batches all commit together at the end, which is the right size for
-- the daily trickle. The procedure commits each batch so locks and undo stay small.
--
-- All of them walk the same way: todoscale_archive_walk_next() moves one batch, a range of heap pages for
-- a backlog (todoscale_archive_pages) or the next rows of the partial index otherwise
-- (todoscale_archive_batch), retries it after a serialization failure, and returns where the run got to.
-- The functions call it in a loop, the procedure once per transaction, so a change to the walk or to the
-- retry is made in one place.

-- ---------------------------------------------------------------------------------------------
-- When archival may run
-- ---------------------------------------------------------------------------------------------

-- Why archival must not run while a live migration (002) mirrors `todos`: the mirror trigger keeps each
-- legacy row's one copy where the migration's placement rule (its fixed archive cutoff) puts it, and
-- deletes the old copy from exactly there on the next legacy UPDATE or DELETE. A copy that archival moved
-- to todos_archived is then missed by that delete while the new version is inserted into todos_active:
-- the same id in both tables, and validate_migration() fails (reproduced with archive_completed_todos(0)
-- after two batches and one legacy UPDATE). Archiving resumes after the cutover, when the new tables are
-- the application's own.
-- Returns NULL when archival may go on, else the reason to skip it. When it returns NULL it holds
-- migration_state FOR SHARE until the caller's transaction ends: migration_start() takes that row FOR
-- UPDATE, so a migration cannot start while this transaction moves rows. The first, unlocked read keeps a
-- skipping job from holding that lock (and stalling the migration's batches) for the rest of its run.
CREATE OR REPLACE FUNCTION todoscale_archival_blocked_by_migration() RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    v_state   text;
    v_mirror  boolean;
BEGIN
    IF to_regclass('migration_state') IS NULL THEN
        RETURN NULL;  -- 002 was never installed: no migration can be running
    END IF;
    FOR i IN 1..2 LOOP
        IF i = 1 THEN
            EXECUTE 'SELECT state FROM migration_state' INTO v_state;
        ELSE
            EXECUTE 'SELECT state FROM migration_state FOR SHARE' INTO v_state;
        END IF;
        v_mirror := to_regclass('todos') IS NOT NULL
                    AND EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = to_regclass('todos') AND tgname = 'todoscale_mirror');
        IF v_state IN ('migrating', 'migrated') OR v_mirror THEN
            RETURN format('a migration is mirroring todos (state %s): archiving now would leave ids in both new tables; '
                          'archival resumes after `todoscale migrate cutover`', coalesce(v_state, 'unknown'));
        END IF;
    END LOOP;
    RETURN NULL;
END;
$$;

-- ---------------------------------------------------------------------------------------------
-- One batch: through the index, or a range of heap pages
-- ---------------------------------------------------------------------------------------------

-- Moves one batch: done todos completed before p_cutoff, oldest first, found through the partial index
-- idx_todos_active_done_completed. The rows are locked FOR UPDATE SKIP LOCKED, so a todo that the
-- application is changing right now is left for the next batch instead of being waited for, and two
-- archivers never pick the same row. A row reopened or deleted between the snapshot and the lock is
-- re-checked by PostgreSQL against the WHERE clause and dropped from the batch. DELETE ... RETURNING
-- feeds the INSERT in the same statement: a row is either in todos_active or in todos_archived.
-- Returns the partitions written so the caller can ANALYZE/VACUUM exactly those.
--
-- p_from is where the previous batch ended (its largest completed_at): the rows that batch deleted stay
-- in the index until VACUUM, so starting every batch from the oldest entry would walk past all of them
-- again and make a run quadratic (minutes instead of seconds for 1M rows). A row completed with an
-- older date while the run goes on is left for the next run.
CREATE OR REPLACE FUNCTION todoscale_archive_batch(
    p_cutoff timestamptz, p_batch_size int, p_from timestamptz,
    OUT moved bigint, OUT active_partitions text[], OUT archived_partitions text[], OUT last_completed_at timestamptz)
LANGUAGE plpgsql
-- The planner estimates the picked set badly and hashes every done row of todos_active to join a few
-- thousand keys (each batch then reads all done rows: a 1M-row archival took minutes). A nested loop
-- looks each picked row up by primary key in its one partition.
SET enable_hashjoin = off
SET enable_mergejoin = off
AS $$
BEGIN
    WITH picked AS (
        SELECT a.user_id, a.id
        FROM todos_active a
        WHERE a.status = 'done' AND a.completed_at < p_cutoff AND a.completed_at >= p_from
        ORDER BY a.completed_at
        LIMIT p_batch_size
        FOR UPDATE SKIP LOCKED
    ), removed AS (
        DELETE FROM todos_active t
        USING picked p
        WHERE t.user_id = p.user_id AND t.id = p.id
          AND t.status = 'done' AND t.completed_at < p_cutoff
        RETURNING t.tableoid AS source_partition, t.*
    ), inserted AS (
        INSERT INTO todos_archived (id, user_id, parent_todo_id, project_id, title, description, status, priority,
                                    due_date, completed_at, ai_generated, created_at, updated_at, archived_at)
        SELECT id, user_id, parent_todo_id, project_id, title, description, status, priority,
               due_date, completed_at, ai_generated, created_at, updated_at, now()
        FROM removed
        RETURNING tableoid AS target_partition
    )
    SELECT (SELECT count(*) FROM inserted),
           coalesce((SELECT array_agg(DISTINCT source_partition::regclass::text) FROM removed), '{}'),
           coalesce((SELECT array_agg(DISTINCT target_partition::regclass::text) FROM inserted), '{}'),
           (SELECT max(completed_at) FROM removed)
    INTO moved, active_partitions, archived_partitions, last_completed_at;
END;
$$;

CREATE OR REPLACE FUNCTION todoscale_archive_cutoff(p_days int) RETURNS timestamptz
LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF p_days IS NULL OR p_days < 0 THEN
        RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
            MESSAGE = format('days must be 0 or more (got %s)', coalesce(p_days::text, 'NULL'));
    END IF;
    -- 0 means "every done todo", including one completed earlier in this very transaction.
    RETURN CASE WHEN p_days = 0 THEN clock_timestamp() ELSE now() - make_interval(days => p_days) END;
END;
$$;

-- Whether an archival is a backlog to walk page by page, and how many heap pages make one batch. A backlog
-- has at least two eligible rows per heap page of todos_active (the first run after the data migration, a
-- daily job that did not run for weeks): batches through idx_todos_active_done_completed in completed_at
-- order then land on random pages, so each page is read, dirtied, written back and pruned once per row it
-- holds rather than once, and every row is looked up again by primary key. `todoscale bench archival`
-- (1M done todos, 2 cores) measured that at 0.45-0.60x the rate of one DELETE ... RETURNING, and walking
-- the pages (todoscale_archive_pages) at 0.96-1.03x, with 13% less WAL and less extra work for the list
-- query meanwhile. Fewer eligible rows (the daily trickle) go through the index, which reads only the pages
-- that hold them: chunk_pages is NULL then. The eligible rows are counted through that same partial index.
CREATE OR REPLACE FUNCTION todoscale_archive_backlog_pages(p_cutoff timestamptz, p_batch_size int,
    OUT chunk_pages bigint, OUT partitions regclass[])
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_eligible bigint;
    v_pages    bigint;
BEGIN
    SELECT count(*) INTO v_eligible FROM todos_active WHERE status = 'done' AND completed_at < p_cutoff;
    partitions := ARRAY(SELECT i.inhrelid::regclass FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                        WHERE i.inhparent = 'todos_active'::regclass ORDER BY c.relname);
    SELECT coalesce(sum(pg_relation_size(r)), 0) / current_setting('block_size')::int INTO v_pages FROM unnest(partitions) r;
    -- Pages per batch so that a batch moves about p_batch_size rows at the table's density.
    chunk_pages := CASE WHEN v_eligible > 0 AND v_eligible >= 2 * v_pages
                        THEN greatest(1, ceil(p_batch_size::numeric * v_pages / v_eligible))::bigint END;
END;
$$;

-- Moves the eligible rows stored on heap pages [p_first_page, p_first_page + p_pages) of one todos_active
-- partition: a TID range scan of those pages only, each row locked FOR UPDATE SKIP LOCKED as in
-- todoscale_archive_batch() (a row the application is changing is left alone, two archivers never take the
-- same row), then deleted by its ctid and inserted into todos_archived in the same statement, so a row is in
-- exactly one of the two tables. The DELETE re-checks status and completed_at, and a row the application
-- updated after this statement's snapshot is not visible to it at all: that row stays, for the next run.
-- The partition name is a regclass, quoted by format(). Used for a backlog (todoscale_archive_backlog_pages);
-- returns the rows moved and the archive partitions written, as todoscale_archive_batch() does.
CREATE OR REPLACE FUNCTION todoscale_archive_pages(p_partition regclass, p_cutoff timestamptz, p_first_page bigint, p_pages bigint,
    OUT moved bigint, OUT archived_partitions text[])
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format($sql$
        WITH picked AS (
            SELECT a.ctid AS row_ctid
            FROM %1$s a
            WHERE a.ctid >= $1 AND a.ctid < $2 AND a.status = 'done' AND a.completed_at < $3
            FOR UPDATE SKIP LOCKED
        ), removed AS (
            DELETE FROM %1$s t
            WHERE t.ctid = ANY (ARRAY(SELECT row_ctid FROM picked))
              AND t.status = 'done' AND t.completed_at < $3
            RETURNING t.*
        ), inserted AS (
            INSERT INTO todos_archived (id, user_id, parent_todo_id, project_id, title, description, status, priority,
                                        due_date, completed_at, ai_generated, created_at, updated_at, archived_at)
            SELECT id, user_id, parent_todo_id, project_id, title, description, status, priority,
                   due_date, completed_at, ai_generated, created_at, updated_at, now()
            FROM removed
            RETURNING tableoid AS target_partition
        )
        SELECT (SELECT count(*) FROM inserted),
               coalesce((SELECT array_agg(d.p::regclass::text ORDER BY d.p) FROM (SELECT DISTINCT target_partition AS p FROM inserted) d), '{}')
        $sql$, p_partition)
    INTO moved, archived_partitions
    USING format('(%s,0)', p_first_page)::tid, format('(%s,0)', p_first_page + p_pages)::tid, p_cutoff;
END;
$$;

-- ---------------------------------------------------------------------------------------------
-- The walk: one batch at a time, shared by the function and the procedure
-- ---------------------------------------------------------------------------------------------

-- Where an archival run has got to, carried from one batch to the next. A value rather than state in a
-- table: the procedure keeps it across its COMMITs, and an interrupted run leaves nothing to clean up
-- (the next run plans afresh). CREATE TYPE has no IF NOT EXISTS; the check keeps 003 re-runnable, and
-- also means a change to the fields here needs its own ALTER TYPE (or DROP TYPE ... CASCADE, which drops
-- the two walk functions below until this file creates them again).
DO $$
BEGIN
    IF to_regtype('todoscale_archive_walk') IS NULL THEN
        CREATE TYPE todoscale_archive_walk AS (
            cutoff              timestamptz,  -- done todos completed before this move
            batch_size          int,
            partitions          regclass[],   -- the todos_active partitions in walk order; NULL until planned
            chunk_pages         bigint,       -- heap pages per batch of a backlog; NULL: batches through the index
            part_no             int,          -- the backlog walk is in partitions[part_no] ...
            next_page           bigint,       -- ... at this page ...
            last_page           bigint,       -- ... of this many (its size when the walk reached it)
            from_completed      timestamptz,  -- index batches: the largest completed_at the previous batch moved
            retries             int,          -- serialization failures retried so far in this run
            done                boolean,      -- nothing is left to walk
            moved               bigint,       -- the last batch: rows moved,
            active_partitions   text[],       --   the todos_active partitions they left,
            archived_partitions text[]        --   the todos_archived partitions they went to
        );
    END IF;
END;
$$;

-- A new run: checks the arguments (days first, then batch_size, as the entry points always did) and
-- takes the cutoff once, so every batch of the run agrees on which rows are old enough. The run is
-- planned by its first batch, not here: the plan counts every eligible row, which a caller that refuses
-- to go on (a bad throttle, a migration mirroring todos) should not pay for.
CREATE OR REPLACE FUNCTION todoscale_archive_walk_start(p_days int, p_batch_size int) RETURNS todoscale_archive_walk
LANGUAGE plpgsql AS $$
DECLARE
    v_walk todoscale_archive_walk;
BEGIN
    v_walk.cutoff := todoscale_archive_cutoff(p_days);
    IF p_batch_size IS NULL OR p_batch_size < 1 THEN
        RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
            MESSAGE = format('batch_size must be 1 or more (got %s)', coalesce(p_batch_size::text, 'NULL'));
    END IF;
    v_walk.batch_size := p_batch_size;
    v_walk.from_completed := '-infinity';
    v_walk.retries := 0;
    v_walk.done := false;
    v_walk.moved := 0;
    v_walk.active_partitions := '{}';
    v_walk.archived_partitions := '{}';
    RETURN v_walk;
END;
$$;

-- Moves the next batch of a run and returns where the run got to: done once nothing is left; moved and
-- the partitions describe this batch alone. The first call plans the run (todoscale_archive_backlog_pages):
-- a backlog is walked page by page, partition by partition, chunk_pages pages per batch; anything else
-- goes through the index. A batch undone by a serialization failure is taken again, up to 10 times in one
-- run; the 11th failure is raised. A row the application held locked, or updated meanwhile, stays for the
-- next run. The caller owns the transactions (the procedure commits after every call) and the check for a
-- migration that mirrors todos (todoscale_archival_blocked_by_migration, in the batch's own transaction).
CREATE OR REPLACE FUNCTION todoscale_archive_walk_next(p_walk todoscale_archive_walk) RETURNS todoscale_archive_walk
LANGUAGE plpgsql AS $$
DECLARE
    w        todoscale_archive_walk := p_walk;
    v_plan   record;
    v_batch  record;  -- through the index: todoscale_archive_batch()
    v_pages  record;  -- a backlog: todoscale_archive_pages()
    v_walked boolean := false;
BEGIN
    w.moved := 0;
    w.active_partitions := '{}';
    w.archived_partitions := '{}';
    IF w.partitions IS NULL AND NOT w.done THEN
        v_plan := todoscale_archive_backlog_pages(w.cutoff, w.batch_size);
        w.partitions := v_plan.partitions;
        w.chunk_pages := v_plan.chunk_pages;
        w.part_no := 0;
        w.next_page := 0;
        w.last_page := 0;
    END IF;

    LOOP
        -- A backlog: past the last page of a partition, go on in the next partition with pages (the first
        -- call starts before the first partition). A partition's size is taken when the walk reaches it:
        -- pages added later hold rows written during the run, which the next run takes.
        WHILE w.chunk_pages IS NOT NULL AND w.next_page >= w.last_page AND NOT w.done LOOP
            w.part_no := w.part_no + 1;
            IF w.part_no > cardinality(w.partitions) THEN
                w.done := true;
            ELSE
                w.last_page := pg_relation_size(w.partitions[w.part_no]) / current_setting('block_size')::int;
                w.next_page := 0;
            END IF;
        END LOOP;
        -- Looking ahead after this call's batch makes `done` true with a backlog's last batch: the
        -- procedure does not open one more transaction (and check for a migration again) only to find
        -- nothing left.
        EXIT WHEN w.done OR v_walked;

        LOOP
            BEGIN
                IF w.chunk_pages IS NULL THEN
                    v_batch := todoscale_archive_batch(w.cutoff, w.batch_size, w.from_completed);
                ELSE
                    v_pages := todoscale_archive_pages(w.partitions[w.part_no], w.cutoff, w.next_page, w.chunk_pages);
                END IF;
                EXIT;
            EXCEPTION WHEN serialization_failure THEN
                -- An application UPDATE moved a picked row to another hash partition (its user changed)
                -- after the batch picked it: PostgreSQL refuses to lock it and the batch is undone; take
                -- the same pages, or the same index position, again.
                w.retries := w.retries + 1;
                IF w.retries > 10 THEN
                    RAISE;
                END IF;
            END;
        END LOOP;
        v_walked := true;

        IF w.chunk_pages IS NULL THEN
            -- Through the index until a batch finds nothing; the next batch starts where this one ended.
            w.done := v_batch.moved = 0;
            IF v_batch.moved > 0 THEN
                w.moved := v_batch.moved;
                w.from_completed := v_batch.last_completed_at;
                w.active_partitions := v_batch.active_partitions;
                w.archived_partitions := v_batch.archived_partitions;
            END IF;
        ELSE
            IF v_pages.moved > 0 THEN
                w.moved := v_pages.moved;
                w.active_partitions := ARRAY[w.partitions[w.part_no]::text];
                w.archived_partitions := v_pages.archived_partitions;
            END IF;
            w.next_page := w.next_page + w.chunk_pages;
        END IF;
    END LOOP;
    RETURN w;
END;
$$;

-- ---------------------------------------------------------------------------------------------
-- Citus: todos_active distributed by user (migrations/citus/distribute.sql)
-- ---------------------------------------------------------------------------------------------

-- Moves the done todos completed in [p_from, p_to) and before p_cutoff, in one statement: Citus runs the DELETE
-- on every shard, brings the deleted rows to the coordinator and inserts them into todos_archived, routing each
-- to its user's shard, all in one distributed transaction (two-phase commit across the workers), so a row is in
-- exactly one of the two tables when it commits. The walk above cannot run there: it sizes the table with
-- pg_relation_size(), which is 0 for the coordinator's empty shells (a trial archived nothing with 15,800 rows
-- eligible), and SELECT ... FOR UPDATE SKIP LOCKED across shards is refused. The DELETE re-checks status and
-- completed_at on each row after waiting for an application transaction that holds it, as the walk's does.
-- Returns the rows moved and the todos_archived partitions (months) they went to.
CREATE OR REPLACE FUNCTION todoscale_archive_distributed_window(p_cutoff timestamptz, p_from timestamptz, p_to timestamptz,
    OUT moved bigint, OUT archived_partitions text[])
LANGUAGE plpgsql AS $$
DECLARE
    v_months date[];
BEGIN
    WITH removed AS (
        DELETE FROM todos_active t
        WHERE t.status = 'done' AND t.completed_at < p_cutoff AND t.completed_at >= p_from AND t.completed_at < p_to
        RETURNING t.*
    ), inserted AS (
        INSERT INTO todos_archived (id, user_id, parent_todo_id, project_id, title, description, status, priority,
                                    due_date, completed_at, ai_generated, created_at, updated_at, archived_at)
        SELECT id, user_id, parent_todo_id, project_id, title, description, status, priority,
               due_date, completed_at, ai_generated, created_at, updated_at, now()
        FROM removed
        RETURNING completed_at
    )
    SELECT count(*), coalesce(array_agg(DISTINCT date_trunc('month', completed_at AT TIME ZONE 'UTC')::date), '{}')
    INTO moved, v_months
    FROM inserted;
    -- tableoid would name a shard on a worker: the month's partition (or DEFAULT) is found by name instead.
    archived_partitions := ARRAY(
        SELECT DISTINCT coalesce(to_regclass('todos_archived_' || to_char(m, 'YYYY_MM'))::text, 'todos_archived_default')
        FROM unnest(v_months) m ORDER BY 1);
END;
$$;

-- The distributed archival, one statement per month of completion (oldest first), so no statement carries
-- more than a month of done todos through the coordinator. In the caller's transaction.
CREATE OR REPLACE FUNCTION todoscale_archive_distributed(p_cutoff timestamptz,
    OUT moved bigint, OUT batches int, OUT active_partitions text[], OUT archived_partitions text[])
LANGUAGE plpgsql AS $$
DECLARE
    v_month  timestamptz;
    v_window record;
BEGIN
    moved := 0; batches := 0; active_partitions := '{}'; archived_partitions := '{}';
    FOR v_month IN
        SELECT DISTINCT date_trunc('month', completed_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
        FROM todos_active WHERE status = 'done' AND completed_at < p_cutoff ORDER BY 1
    LOOP
        v_window := todoscale_archive_distributed_window(p_cutoff, v_month,
            ((v_month AT TIME ZONE 'UTC') + interval '1 month') AT TIME ZONE 'UTC');
        IF v_window.moved > 0 THEN
            moved := moved + v_window.moved;
            batches := batches + 1;
            archived_partitions := ARRAY(SELECT DISTINCT unnest(archived_partitions || v_window.archived_partitions) ORDER BY 1);
        END IF;
    END LOOP;
    -- Which of the 16 partitions the rows left is not known on the coordinator; VACUUM/ANALYZE of the parent
    -- reaches every shard's partitions.
    IF moved > 0 THEN
        active_partitions := ARRAY['todos_active'];
    END IF;
END;
$$;

-- The batched procedure's Citus path: archive_completed_todos_in_batches() calls it first thing there. One
-- month of completion per transaction, committed, with the same migration check and throttle.
CREATE OR REPLACE PROCEDURE todoscale_archive_distributed_in_batches(p_days int, p_throttle interval)
LANGUAGE plpgsql AS $$
DECLARE
    v_cutoff  timestamptz := todoscale_archive_cutoff(p_days);
    v_months  timestamptz[];
    v_window  record;
    v_total   bigint := 0;
    v_blocked text;
BEGIN
    v_months := ARRAY(SELECT DISTINCT date_trunc('month', completed_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
                      FROM todos_active WHERE status = 'done' AND completed_at < v_cutoff ORDER BY 1);
    COMMIT;
    FOR i IN 1 .. coalesce(cardinality(v_months), 0) LOOP
        v_blocked := todoscale_archival_blocked_by_migration();
        IF v_blocked IS NOT NULL THEN
            RAISE WARNING 'archive_completed_todos_in_batches stopped after % rows: %', v_total, v_blocked;
            RETURN;
        END IF;
        v_window := todoscale_archive_distributed_window(v_cutoff, v_months[i],
            ((v_months[i] AT TIME ZONE 'UTC') + interval '1 month') AT TIME ZONE 'UTC');
        COMMIT;
        v_total := v_total + v_window.moved;
        IF v_window.moved > 0 AND p_throttle > interval '0' THEN
            PERFORM pg_sleep_for(p_throttle);
        END IF;
    END LOOP;
    RAISE NOTICE 'archived % rows in total', v_total;
END;
$$;

-- ---------------------------------------------------------------------------------------------
-- The entry points
-- ---------------------------------------------------------------------------------------------

-- All batches until none is left, in the caller's transaction; used by archive_completed_todos() and the
-- daily run. Refuses (object_not_in_prerequisite_state) while a migration mirrors todos.
CREATE OR REPLACE FUNCTION todoscale_archive(
    p_days int, p_batch_size int,
    OUT moved bigint, OUT batches int, OUT active_partitions text[], OUT archived_partitions text[])
LANGUAGE plpgsql AS $$
DECLARE
    v_walk    todoscale_archive_walk := todoscale_archive_walk_start(p_days, p_batch_size);
    v_blocked text;
BEGIN
    moved := 0; batches := 0; active_partitions := '{}'; archived_partitions := '{}';
    v_blocked := todoscale_archival_blocked_by_migration();
    IF v_blocked IS NOT NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'object_not_in_prerequisite_state', MESSAGE = 'archival skipped: ' || v_blocked;
    END IF;
    IF todoscale_is_distributed() THEN
        SELECT d.moved, d.batches, d.active_partitions, d.archived_partitions
        INTO moved, batches, active_partitions, archived_partitions
        FROM todoscale_archive_distributed(v_walk.cutoff) d;
        RETURN;
    END IF;
    WHILE NOT v_walk.done LOOP
        v_walk := todoscale_archive_walk_next(v_walk);
        IF v_walk.moved > 0 THEN
            moved := moved + v_walk.moved;
            batches := batches + 1;
            active_partitions := ARRAY(SELECT DISTINCT unnest(active_partitions || v_walk.active_partitions) ORDER BY 1);
            archived_partitions := ARRAY(SELECT DISTINCT unnest(archived_partitions || v_walk.archived_partitions) ORDER BY 1);
        END IF;
    END LOOP;
END;
$$;

-- The guide's interface: archive_completed_todos(0) archives every done todo at once.
-- Returns how many rows moved. One transaction (see the top of this file for large backlogs).
-- While a migration mirrors todos it moves nothing, returns 0 and says why in a WARNING.
CREATE OR REPLACE FUNCTION archive_completed_todos(days int DEFAULT 30, batch_size int DEFAULT 5000)
RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    v_blocked text := todoscale_archival_blocked_by_migration();
BEGIN
    IF v_blocked IS NOT NULL THEN
        RAISE WARNING 'archive_completed_todos skipped: %', v_blocked;
        RETURN 0;
    END IF;
    RETURN (todoscale_archive(days, batch_size)).moved;
END;
$$;

-- The same archival committing after every batch, for a backlog of millions: each batch's row locks
-- are released and its rows visible in todos_archived at once, and an interrupted run keeps what it
-- moved (run it again to continue). CALL it outside an explicit transaction block.
--
-- The batch engine (maintenance/engine.sql, job 'archival') drives it as it drives the live migration:
-- without batch_size the batches are sized to take `target` (200 ms) from the smoothed rows/second of the
-- ones before, up to max_batch rows (a backlog's page walk takes as many heap pages as that many rows
-- filled in the last batch); a batch undone by a lock timeout (200 ms) or deadlock is retried at half its
-- size; vacuum on todos_active/todos_archived, the WAL rate, replica lag, sessions waiting on the batch's
-- locks and an optional probe statement pause or slow it, with a NOTICE saying why (batch_engine_status()
-- shows it from another session). batch_size or throttle fix the size (5,000 with only a throttle) as before.
--
-- A migration may start between two commits, so whether one mirrors todos is checked in every batch's
-- own transaction (where the check also keeps one from starting until the COMMIT); the run then stops
-- with a WARNING and keeps what it moved.
-- throttle pauses after each batch's COMMIT (holding no row lock and no snapshot), as migrate_todos() in
-- 002 does: on a small server a batch loop keeps one core busy for the whole run, and the application's
-- queries wait for that core. CALL archive_completed_todos_in_batches(30, 5000, throttle => '60 ms');
--
-- Earlier versions are dropped first: CREATE OR REPLACE with more arguments would add a second procedure
-- beside them, and every existing CALL archive_completed_todos_in_batches(30, 5000) would then fail as
-- ambiguous. Those calls keep working through the defaults.
DROP PROCEDURE IF EXISTS archive_completed_todos_in_batches(int, int);
DROP PROCEDURE IF EXISTS archive_completed_todos_in_batches(int, int, interval);
CREATE OR REPLACE PROCEDURE archive_completed_todos_in_batches(
    days int DEFAULT 30, batch_size int DEFAULT NULL, throttle interval DEFAULT NULL, target interval DEFAULT '200 ms',
    max_batch int DEFAULT 50000, signals boolean DEFAULT true, wal_budget_mb numeric DEFAULT 100,
    max_replica_lag interval DEFAULT '10 s', probe text DEFAULT NULL, max_pause interval DEFAULT '60 s')
LANGUAGE plpgsql AS $$
DECLARE
    v_job      batch_engine_jobs;
    v_walk     todoscale_archive_walk;
    v_next     todoscale_archive_walk;
    v_check    record;
    v_total    bigint := 0;
    v_batches  int := 0;
    v_blocked  text;
    v_t0       timestamptz;
    v_err      text;
    v_pause    int;
    v_chunk    bigint;   -- heap pages of the last page-walk batch, and the rows it moved
    v_moved    bigint;
BEGIN
    -- Arguments in the order the entry points always checked them: days, batch_size, throttle.
    v_walk := todoscale_archive_walk_start(days, coalesce(batch_size, 1000));
    IF throttle < interval '0' THEN
        RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
            MESSAGE = format('throttle must be 0 or more (got %s)', throttle);
    END IF;
    -- Citus: the page walk reads the coordinator's empty shells and locks rows across shards (refused there).
    IF todoscale_is_distributed() THEN
        CALL todoscale_archive_distributed_in_batches(days, throttle);
        RETURN;
    END IF;
    v_job := batch_engine_configure('archival', ARRAY['todos_active', 'todos_archived'], target, max_batch, least(100, max_batch),
        CASE WHEN batch_size IS NOT NULL OR throttle IS NOT NULL THEN coalesce(batch_size, 5000) END,
        coalesce(throttle, interval '0'), signals, wal_budget_mb, max_replica_lag, probe, max_pause);
    COMMIT;

    WHILE NOT v_walk.done LOOP
        -- The transaction's first lock: migration_state before any table, the order every migrator takes them
        -- in (after its own batch_engine_jobs row, which archival never locks), so a migration_start() that
        -- holds the row and waits for a table cannot be waiting on us.
        v_blocked := todoscale_archival_blocked_by_migration();
        IF v_blocked IS NOT NULL THEN
            RAISE WARNING 'archive_completed_todos_in_batches stopped after % rows: %', v_total, v_blocked;
            RETURN;
        END IF;
        v_check := batch_engine_check('archival');
        IF v_check.action = 'pause' THEN
            RAISE NOTICE 'archival %', v_check.reason;
            COMMIT;
            PERFORM pg_sleep(v_check.pause_ms / 1000.0);
            CONTINUE;
        END IF;

        SELECT j.batch_rows INTO v_walk.batch_size FROM batch_engine_jobs j WHERE j.job = 'archival';
        -- A backlog is walked in heap pages: take as many as held the engine's rows in the last batch, at
        -- most twice as many as then (one sparse range must not make the next batch a whole partition).
        IF v_walk.chunk_pages IS NOT NULL AND v_moved > 0 THEN
            v_walk.chunk_pages := least(2 * v_chunk, greatest(1, ceil(v_walk.batch_size::numeric * v_chunk / v_moved)))::bigint;
        END IF;
        v_t0 := clock_timestamp();
        v_err := NULL;
        BEGIN
            PERFORM set_config('lock_timeout', '200ms', true);
            v_next := todoscale_archive_walk_next(v_walk);
        EXCEPTION WHEN lock_not_available OR deadlock_detected THEN
            -- Undone whole (the subtransaction); the same position is taken again at half the size.
            v_err := SQLERRM;
        END;
        IF v_err IS NULL THEN
            v_chunk := v_walk.chunk_pages;
            v_walk := v_next;
            v_moved := CASE WHEN v_walk.chunk_pages IS NOT NULL THEN v_walk.moved END;
        ELSIF v_walk.chunk_pages IS NOT NULL THEN
            v_walk.chunk_pages := greatest(1, v_walk.chunk_pages / 2);
            v_moved := NULL;
        END IF;
        v_job := batch_engine_record('archival', coalesce(CASE WHEN v_err IS NULL THEN v_walk.moved END, 0)::int,
                                     extract(epoch FROM clock_timestamp() - v_t0) * 1000,
                                     CASE WHEN v_err IS NOT NULL THEN 'split' WHEN v_walk.done AND v_walk.moved = 0 THEN 'done' ELSE 'ok' END,
                                     v_err);
        COMMIT;
        IF v_err IS NOT NULL THEN
            RAISE NOTICE 'archival %; retrying with % rows', v_job.last_detail, v_job.batch_rows;
        ELSIF v_walk.moved > 0 THEN
            v_total := v_total + v_walk.moved;
            v_batches := v_batches + 1;
            IF v_batches % 20 = 0 THEN
                RAISE NOTICE 'archived % rows so far', v_total;
            END IF;
            v_pause := v_check.pause_ms;
            IF v_pause > 0 THEN
                IF v_check.action = 'slow' THEN
                    RAISE NOTICE 'archival %', v_check.reason;
                END IF;
                PERFORM pg_sleep(v_pause / 1000.0);
            END IF;
        END IF;
    END LOOP;
    RAISE NOTICE 'archived % rows in total', v_total;
END;
$$;
