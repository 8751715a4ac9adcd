-- vaultjobs schema 2: job definitions (schedules), cancellation and per-job flags.

CREATE TABLE job_definitions (
    name                  TEXT PRIMARY KEY,
    processor             TEXT NOT NULL,
    title                 TEXT,
    parameters            TEXT NOT NULL,
    owner_id              INTEGER NOT NULL REFERENCES users(id),
    cron                  TEXT,
    timezone              TEXT NOT NULL DEFAULT 'UTC',
    interval_ms           INTEGER,
    timeout_ms            INTEGER,
    inactivity_timeout_ms INTEGER,
    single_instance       INTEGER NOT NULL DEFAULT 0,
    enabled               INTEGER NOT NULL DEFAULT 1,
    updated_at            INTEGER NOT NULL
) WITHOUT ROWID;

ALTER TABLE jobs ADD COLUMN definition TEXT;
ALTER TABLE jobs ADD COLUMN cancellable INTEGER NOT NULL DEFAULT 1;
CREATE INDEX jobs_definition ON jobs(definition, status) WHERE definition IS NOT NULL;
-- At most one SCHEDULED instance per definition, even with two schedulers racing.
CREATE UNIQUE INDEX jobs_one_scheduled ON jobs(definition) WHERE status = 'SCHEDULED' AND definition IS NOT NULL;
