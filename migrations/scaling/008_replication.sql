-- TodoScale 008: read replicas (streaming standbys) with read-your-writes.
--
-- Run with: psql -v ON_ERROR_STOP=1 -f migrations/scaling/008_replication.sql   (on the PRIMARY; idempotent)
-- Creates one small table and three functions; the standbys get them through replication like everything else.
--
--   SELECT replica_record_write(user_id);   -- after a user's write: that user's read fence (an LSN)
--   SELECT replica_read_fence(user_id);     -- before a user's read: the fence, NULL when the user never wrote
--   SELECT * FROM replication_status();     -- per standby: state, slot, replay lag in bytes and seconds
--
-- Why a table on the primary: the API sends a user's reads to a standby only when that standby has replayed
-- the user's last write (pg_last_wal_replay_lsn() >= the fence). The fence must be visible to EVERY API
-- instance at once (a user's write may go through one instance and the next read through another), and must
-- not depend on the client keeping a cookie or header, so it lives in the one place all instances share and
-- that is never stale: the primary. A standby cannot answer "has this user written since?" itself: a write
-- it has not replayed yet is, by definition, invisible to it.
--
-- Why pg_current_wal_insert_lsn() in a separate, later statement: the commit LSN of a transaction is only known
-- once it has committed, and the API records the fence after the write committed and before the response is
-- sent. The insert position at that moment is at or past the end of the write's commit record, so a standby
-- whose replay position has reached the fence has replayed the write (it may include other users' later WAL:
-- the fence is conservative, never too early).

SET lock_timeout = '5s';
SET client_min_messages = warning;

-- One row per user who has written through the API; small (user_id + LSN) and updated in place (HOT: no
-- indexed column changes), so it stays a few pages per thousand users. No foreign key to users: deleting a
-- user must not wait on this table, and a stale fence of a deleted user is never read again.
CREATE TABLE IF NOT EXISTS replica_read_fences (
    user_id    uuid PRIMARY KEY,
    commit_lsn pg_lsn NOT NULL,
    written_at timestamptz NOT NULL DEFAULT now()
) WITH (fillfactor = 70);

COMMENT ON TABLE replica_read_fences IS
    'Read-your-writes fences of the API: a user''s reads go to a standby only once it has replayed commit_lsn (see 008_replication.sql).';

-- greatest(): two writes of one user through two API instances may record out of order; the fence never moves back.
CREATE OR REPLACE FUNCTION replica_record_write(p_user_id uuid)
RETURNS pg_lsn
LANGUAGE sql
VOLATILE
AS $$
    INSERT INTO replica_read_fences AS f (user_id, commit_lsn, written_at)
    VALUES (p_user_id, pg_current_wal_insert_lsn(), clock_timestamp())
    ON CONFLICT (user_id) DO UPDATE
        SET commit_lsn = greatest(f.commit_lsn, EXCLUDED.commit_lsn), written_at = EXCLUDED.written_at
    RETURNING commit_lsn;
$$;

CREATE OR REPLACE FUNCTION replica_read_fence(p_user_id uuid)
RETURNS pg_lsn
LANGUAGE sql
STABLE
AS $$
    SELECT commit_lsn FROM replica_read_fences WHERE user_id = p_user_id;
$$;

-- Replication as the primary sees it: one row per connected standby (pg_stat_replication) and per physical
-- slot, joined on the slot's active pid, so a standby that is DOWN still shows up through its slot (inactive,
-- retaining WAL: the disk risk of a dead replica). Lag in bytes is primary WAL position minus replay position.
-- pg_stat_replication.replay_lag is NULL or stale when the primary is idle (it is measured only while WAL flows),
-- so a caught-up standby reports 0 seconds rather than its last measured lag. On a standby this returns nothing
-- (pg_current_wal_lsn() cannot be called during recovery).
-- status: CRITICAL = slot without a connected standby (WAL piles up on the primary); WARNING = replay lag above
-- warn_lag_seconds (the API stops reading from such a standby once it exceeds its own bound); OK otherwise.
CREATE OR REPLACE FUNCTION replication_status(warn_lag_seconds numeric DEFAULT 5)
RETURNS TABLE (
    standby           text,
    client_addr       text,
    state             text,
    sync_state        text,
    slot_name         text,
    slot_active       boolean,
    sent_lsn          pg_lsn,
    replay_lsn        pg_lsn,
    replay_lag_bytes  numeric,
    replay_lag_seconds numeric,
    retained_wal_bytes numeric,
    status            text
)
LANGUAGE plpgsql
STABLE
AS $$
DECLARE
    current_lsn pg_lsn;
BEGIN
    IF pg_is_in_recovery() THEN
        RETURN;
    END IF;
    current_lsn := pg_current_wal_lsn();
    RETURN QUERY
    SELECT coalesce(r.application_name, s.slot_name::text),
           r.client_addr::text,
           coalesce(r.state, 'disconnected'),
           r.sync_state,
           s.slot_name::text,
           s.active,
           r.sent_lsn,
           r.replay_lsn,
           pg_wal_lsn_diff(current_lsn, r.replay_lsn),
           CASE WHEN r.replay_lsn IS NULL THEN NULL
                WHEN r.replay_lsn >= current_lsn THEN 0::numeric
                ELSE round(extract(epoch FROM coalesce(r.replay_lag, interval '0'))::numeric, 3) END,
           pg_wal_lsn_diff(current_lsn, s.restart_lsn),
           CASE WHEN r.pid IS NULL THEN 'CRITICAL'
                WHEN r.replay_lsn < current_lsn AND extract(epoch FROM coalesce(r.replay_lag, interval '0')) > warn_lag_seconds THEN 'WARNING'
                ELSE 'OK' END
    FROM pg_stat_replication r
    FULL JOIN (SELECT * FROM pg_replication_slots WHERE slot_type = 'physical') s ON s.active_pid = r.pid
    ORDER BY 1;
END;
$$;
