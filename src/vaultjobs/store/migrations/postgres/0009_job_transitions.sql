-- vaultjobs schema 9 (PostgreSQL): every change of a job's status, as it happened (the Job Status
-- page's timeline, store.jobs.transitions). Written by a row trigger in the transaction of the change
-- itself, so that every writer (enqueue, claim, end, cancel, start now, the scheduler and the sweeper)
-- is recorded with no extra statement or round trip; the trigger's WHEN keeps updates that leave the
-- status alone (heartbeats, phases) from calling it at all. ``moved_by`` on jobs is who or what made
-- the row's latest change (``user:<id>``, ``worker:<id>``, ``scheduler``, ``sweeper``,
-- ``definitions``), set by the writer with the status. Jobs that existed before this migration have
-- no transitions; retention deletes a job's with it.
ALTER TABLE jobs ADD COLUMN moved_by TEXT;

CREATE TABLE job_transitions (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job_id      BIGINT NOT NULL,
    from_status TEXT,
    to_status   TEXT NOT NULL,
    at          BIGINT NOT NULL,
    actor       TEXT
);
CREATE INDEX job_transitions_job ON job_transitions(job_id, id);

CREATE FUNCTION record_job_transition() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO job_transitions (job_id, from_status, to_status, at, actor)
        VALUES (NEW.id, NULL, NEW.status, NEW.created_at, NEW.moved_by);
    ELSE
        INSERT INTO job_transitions (job_id, from_status, to_status, at, actor)
        VALUES (NEW.id, OLD.status, NEW.status, NEW.modified_at, NEW.moved_by);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER job_transitions_created AFTER INSERT ON jobs
FOR EACH ROW EXECUTE FUNCTION record_job_transition();

CREATE TRIGGER job_transitions_moved AFTER UPDATE OF status ON jobs
FOR EACH ROW WHEN (NEW.status IS DISTINCT FROM OLD.status) EXECUTE FUNCTION record_job_transition();
