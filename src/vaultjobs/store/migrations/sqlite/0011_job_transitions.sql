-- vaultjobs schema 11: every change of a job's status, as it happened (the Job Status page's timeline,
-- store.jobs.transitions). Written by triggers in the transaction of the change itself, so that every
-- writer (enqueue, claim, end, cancel, start now, the scheduler and the sweeper) is recorded at no
-- extra statement. ``moved_by`` on jobs is who or what made the row's latest change (``user:<id>``,
-- ``worker:<id>``, ``scheduler``, ``sweeper``, ``definitions``), set by the writer with the status.
-- Jobs that existed before this migration have no transitions; retention deletes a job's with it.
ALTER TABLE jobs ADD COLUMN moved_by TEXT;

CREATE TABLE job_transitions (
    id          INTEGER PRIMARY KEY,
    job_id      INTEGER NOT NULL,
    from_status TEXT,
    to_status   TEXT NOT NULL,
    at          INTEGER NOT NULL,
    actor       TEXT
);
CREATE INDEX job_transitions_job ON job_transitions(job_id, id);

CREATE TRIGGER job_transitions_created AFTER INSERT ON jobs
BEGIN
    INSERT INTO job_transitions (job_id, from_status, to_status, at, actor)
    VALUES (new.id, NULL, new.status, new.created_at, new.moved_by);
END;

CREATE TRIGGER job_transitions_moved AFTER UPDATE OF status ON jobs
WHEN new.status <> old.status
BEGIN
    INSERT INTO job_transitions (job_id, from_status, to_status, at, actor)
    VALUES (new.id, old.status, new.status, new.modified_at, new.moved_by);
END;
