-- vaultjobs schema 17: the jobs a claim takes besides QUEUED ones, RUNNING or CANCELLING jobs between
-- phases that no worker holds (a dead worker's idempotent job, or one a batch handed back), in an
-- index of their own: found through the status index, a claim read every running job to find the
-- few of them, 2.4 ms a claim with 10,000 jobs running. The condition is spelled as the claim spells
-- it (src/vaultjobs/store/work.py, _HELD_NOWHERE), OR chains as in migration 0003.
CREATE INDEX jobs_unheld ON jobs(id)
    WHERE (status = 'RUNNING' OR status = 'CANCELLING') AND (phase = 'init' OR phase = 'complete') AND worker_id IS NULL;
