-- vaultjobs schema 3: Retrieve Job Histories / Job Monitors, and the retention purge.
--
-- A finished job's "finished at" is COALESCE(run_end, modified_at): the end of its run, or, for a job
-- that ended without running (cancelled before it started, MISSED_SCHEDULE, FAILED_TO_RUN), the
-- moment it ended. Histories filter and order on it; the purge selects on it. Queries must spell the
-- expression and the status conditions exactly as here for SQLite to use these partial indexes
-- (src/vaultjobs/store/sqlite_history.py does, and its tests check the plans).
--
-- The status conditions are OR chains, not IN lists: SQLite evaluates a partial index's WHERE (and a
-- trigger's WHEN) on every insert and update of jobs, and an IN list of more than two values builds a
-- temporary b-tree each time: with IN lists, what these add to a job's writes took 3.5 times the CPU.

CREATE INDEX jobs_history ON jobs(COALESCE(run_end, modified_at), id)
    WHERE (status = 'SUCCESS' OR status = 'ERRORS_ENCOUNTERED' OR status = 'FAILED_TO_RUN' OR status = 'MISSED_SCHEDULE' OR status = 'TIMEOUT' OR status = 'COMPLETED_DUE_TO_INACTIVITY' OR status = 'CANCELLED');
CREATE INDEX jobs_history_status ON jobs(status, COALESCE(run_end, modified_at), id)
    WHERE (status = 'SUCCESS' OR status = 'ERRORS_ENCOUNTERED' OR status = 'FAILED_TO_RUN' OR status = 'MISSED_SCHEDULE' OR status = 'TIMEOUT' OR status = 'COMPLETED_DUE_TO_INACTIVITY' OR status = 'CANCELLED');
CREATE INDEX jobs_history_user ON jobs(created_by, COALESCE(run_end, modified_at), id)
    WHERE (status = 'SUCCESS' OR status = 'ERRORS_ENCOUNTERED' OR status = 'FAILED_TO_RUN' OR status = 'MISSED_SCHEDULE' OR status = 'TIMEOUT' OR status = 'COMPLETED_DUE_TO_INACTIVITY' OR status = 'CANCELLED');
CREATE INDEX jobs_history_user_status ON jobs(created_by, status, COALESCE(run_end, modified_at), id)
    WHERE (status = 'SUCCESS' OR status = 'ERRORS_ENCOUNTERED' OR status = 'FAILED_TO_RUN' OR status = 'MISSED_SCHEDULE' OR status = 'TIMEOUT' OR status = 'COMPLETED_DUE_TO_INACTIVITY' OR status = 'CANCELLED');

-- Monitors: unfinished jobs only, newest created first; owner and status ride along for filtering.
CREATE INDEX jobs_monitor ON jobs(created_at, id, created_by, status)
    WHERE (status = 'SCHEDULED' OR status = 'QUEUEING' OR status = 'QUEUED' OR status = 'RUNNING' OR status = 'CANCELLING');

-- How many finished jobs end in each time bucket, per owner (who = user id) and for everyone
-- (who = 0), per status, at two granularities: level 1 = 8-second buckets, level 2 = 4096-second
-- buckets (512 level-1 buckets each). Histories read `total` from here and skip to any offset by
-- walking these counts instead of millions of index entries. Kept exact by the triggers below, in
-- the same transaction as every change to jobs; rows that fall to zero are deleted.
CREATE TABLE job_history_counts (
    level  INTEGER NOT NULL,
    who    INTEGER NOT NULL,
    bucket INTEGER NOT NULL,
    status TEXT NOT NULL,
    n      INTEGER NOT NULL,
    PRIMARY KEY (level, who, bucket, status)
) WITHOUT ROWID;

INSERT INTO job_history_counts (level, who, bucket, status, n)
SELECT level, who, bucket, status, count(*) FROM (
    SELECT 1 AS level, created_by AS who, COALESCE(run_end, modified_at) / 8000 AS bucket, status FROM jobs
        WHERE (status = 'SUCCESS' OR status = 'ERRORS_ENCOUNTERED' OR status = 'FAILED_TO_RUN' OR status = 'MISSED_SCHEDULE' OR status = 'TIMEOUT' OR status = 'COMPLETED_DUE_TO_INACTIVITY' OR status = 'CANCELLED')
    UNION ALL
    SELECT 1, 0, COALESCE(run_end, modified_at) / 8000, status FROM jobs
        WHERE (status = 'SUCCESS' OR status = 'ERRORS_ENCOUNTERED' OR status = 'FAILED_TO_RUN' OR status = 'MISSED_SCHEDULE' OR status = 'TIMEOUT' OR status = 'COMPLETED_DUE_TO_INACTIVITY' OR status = 'CANCELLED')
    UNION ALL
    SELECT 2, created_by, COALESCE(run_end, modified_at) / 4096000, status FROM jobs
        WHERE (status = 'SUCCESS' OR status = 'ERRORS_ENCOUNTERED' OR status = 'FAILED_TO_RUN' OR status = 'MISSED_SCHEDULE' OR status = 'TIMEOUT' OR status = 'COMPLETED_DUE_TO_INACTIVITY' OR status = 'CANCELLED')
    UNION ALL
    SELECT 2, 0, COALESCE(run_end, modified_at) / 4096000, status FROM jobs
        WHERE (status = 'SUCCESS' OR status = 'ERRORS_ENCOUNTERED' OR status = 'FAILED_TO_RUN' OR status = 'MISSED_SCHEDULE' OR status = 'TIMEOUT' OR status = 'COMPLETED_DUE_TO_INACTIVITY' OR status = 'CANCELLED')
) GROUP BY level, who, bucket, status;

CREATE TRIGGER jobs_history_counts_insert AFTER INSERT ON jobs
WHEN (new.status = 'SUCCESS' OR new.status = 'ERRORS_ENCOUNTERED' OR new.status = 'FAILED_TO_RUN' OR new.status = 'MISSED_SCHEDULE' OR new.status = 'TIMEOUT' OR new.status = 'COMPLETED_DUE_TO_INACTIVITY' OR new.status = 'CANCELLED')
BEGIN
    INSERT INTO job_history_counts (level, who, bucket, status, n) VALUES
        (1, new.created_by, COALESCE(new.run_end, new.modified_at) / 8000, new.status, 1),
        (1, 0, COALESCE(new.run_end, new.modified_at) / 8000, new.status, 1),
        (2, new.created_by, COALESCE(new.run_end, new.modified_at) / 4096000, new.status, 1),
        (2, 0, COALESCE(new.run_end, new.modified_at) / 4096000, new.status, 1)
    ON CONFLICT (level, who, bucket, status) DO UPDATE SET n = n + 1;
END;

-- A job becomes finished (the common case), or a finished job's counted fields change (never, today).
CREATE TRIGGER jobs_history_counts_enter AFTER UPDATE OF status, run_end, modified_at, created_by ON jobs
WHEN (new.status = 'SUCCESS' OR new.status = 'ERRORS_ENCOUNTERED' OR new.status = 'FAILED_TO_RUN' OR new.status = 'MISSED_SCHEDULE' OR new.status = 'TIMEOUT' OR new.status = 'COMPLETED_DUE_TO_INACTIVITY' OR new.status = 'CANCELLED')
BEGIN
    INSERT INTO job_history_counts (level, who, bucket, status, n) VALUES
        (1, new.created_by, COALESCE(new.run_end, new.modified_at) / 8000, new.status, 1),
        (1, 0, COALESCE(new.run_end, new.modified_at) / 8000, new.status, 1),
        (2, new.created_by, COALESCE(new.run_end, new.modified_at) / 4096000, new.status, 1),
        (2, 0, COALESCE(new.run_end, new.modified_at) / 4096000, new.status, 1)
    ON CONFLICT (level, who, bucket, status) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER jobs_history_counts_leave AFTER UPDATE OF status, run_end, modified_at, created_by ON jobs
WHEN (old.status = 'SUCCESS' OR old.status = 'ERRORS_ENCOUNTERED' OR old.status = 'FAILED_TO_RUN' OR old.status = 'MISSED_SCHEDULE' OR old.status = 'TIMEOUT' OR old.status = 'COMPLETED_DUE_TO_INACTIVITY' OR old.status = 'CANCELLED')
BEGIN
    DELETE FROM job_history_counts WHERE n = 1 AND level = 1 AND who = old.created_by
        AND bucket = COALESCE(old.run_end, old.modified_at) / 8000 AND status = old.status;
    UPDATE job_history_counts SET n = n - 1 WHERE level = 1 AND who = old.created_by
        AND bucket = COALESCE(old.run_end, old.modified_at) / 8000 AND status = old.status;
    DELETE FROM job_history_counts WHERE n = 1 AND level = 1 AND who = 0
        AND bucket = COALESCE(old.run_end, old.modified_at) / 8000 AND status = old.status;
    UPDATE job_history_counts SET n = n - 1 WHERE level = 1 AND who = 0
        AND bucket = COALESCE(old.run_end, old.modified_at) / 8000 AND status = old.status;
    DELETE FROM job_history_counts WHERE n = 1 AND level = 2 AND who = old.created_by
        AND bucket = COALESCE(old.run_end, old.modified_at) / 4096000 AND status = old.status;
    UPDATE job_history_counts SET n = n - 1 WHERE level = 2 AND who = old.created_by
        AND bucket = COALESCE(old.run_end, old.modified_at) / 4096000 AND status = old.status;
    DELETE FROM job_history_counts WHERE n = 1 AND level = 2 AND who = 0
        AND bucket = COALESCE(old.run_end, old.modified_at) / 4096000 AND status = old.status;
    UPDATE job_history_counts SET n = n - 1 WHERE level = 2 AND who = 0
        AND bucket = COALESCE(old.run_end, old.modified_at) / 4096000 AND status = old.status;
END;

CREATE TRIGGER jobs_history_counts_delete AFTER DELETE ON jobs
WHEN (old.status = 'SUCCESS' OR old.status = 'ERRORS_ENCOUNTERED' OR old.status = 'FAILED_TO_RUN' OR old.status = 'MISSED_SCHEDULE' OR old.status = 'TIMEOUT' OR old.status = 'COMPLETED_DUE_TO_INACTIVITY' OR old.status = 'CANCELLED')
BEGIN
    DELETE FROM job_history_counts WHERE n = 1 AND level = 1 AND who = old.created_by
        AND bucket = COALESCE(old.run_end, old.modified_at) / 8000 AND status = old.status;
    UPDATE job_history_counts SET n = n - 1 WHERE level = 1 AND who = old.created_by
        AND bucket = COALESCE(old.run_end, old.modified_at) / 8000 AND status = old.status;
    DELETE FROM job_history_counts WHERE n = 1 AND level = 1 AND who = 0
        AND bucket = COALESCE(old.run_end, old.modified_at) / 8000 AND status = old.status;
    UPDATE job_history_counts SET n = n - 1 WHERE level = 1 AND who = 0
        AND bucket = COALESCE(old.run_end, old.modified_at) / 8000 AND status = old.status;
    DELETE FROM job_history_counts WHERE n = 1 AND level = 2 AND who = old.created_by
        AND bucket = COALESCE(old.run_end, old.modified_at) / 4096000 AND status = old.status;
    UPDATE job_history_counts SET n = n - 1 WHERE level = 2 AND who = old.created_by
        AND bucket = COALESCE(old.run_end, old.modified_at) / 4096000 AND status = old.status;
    DELETE FROM job_history_counts WHERE n = 1 AND level = 2 AND who = 0
        AND bucket = COALESCE(old.run_end, old.modified_at) / 4096000 AND status = old.status;
    UPDATE job_history_counts SET n = n - 1 WHERE level = 2 AND who = 0
        AND bucket = COALESCE(old.run_end, old.modified_at) / 4096000 AND status = old.status;
END;
