-- vaultjobs schema 16: a worker that the sweeper declared dead keeps its row, marked recovered, so
-- that a worker process still alive under that id (paused, or cut off from the database for longer
-- than the heartbeat timeout) can claim nothing more under it: it registers again under a new id.
ALTER TABLE workers ADD COLUMN recovered_at INTEGER;
