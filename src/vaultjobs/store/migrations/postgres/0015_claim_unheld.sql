-- vaultjobs schema 15 (PostgreSQL): the jobs a claim takes besides QUEUED ones, RUNNING or CANCELLING
-- jobs between phases that no worker holds, in an index of their own (SQLite's migration 0017), so
-- that a claim does not read every running job to find the few of them.
CREATE INDEX jobs_unheld ON jobs(id)
    WHERE (status = 'RUNNING' OR status = 'CANCELLING') AND (phase = 'init' OR phase = 'complete') AND worker_id IS NULL;
