-- vaultjobs schema 10 (PostgreSQL): the control plane's shared state, in the store so that every replica and
-- worker agrees: the virtual clock (one row), limit overrides, and scripted jobs (the scripts per
-- processor, and each scripted job's place in its script).
CREATE TABLE control_clock (
    id        INTEGER PRIMARY KEY CHECK (id = 1),
    frozen_at BIGINT,                     -- epoch ms the clock stands still at; NULL while it runs
    offset_ms BIGINT NOT NULL  DEFAULT 0, -- what the running clock adds to the real one
    version   BIGINT  NOT NULL DEFAULT 0
);
INSERT INTO control_clock (id, frozen_at, offset_ms, version) VALUES (1, NULL, 0, 0);

CREATE TABLE control_limits (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL                   -- JSON
);

CREATE TABLE control_scripts (
    processor  TEXT PRIMARY KEY,
    steps      TEXT NOT NULL,             -- JSON list of steps
    advance_on TEXT NOT NULL
);

CREATE TABLE control_scripted_jobs (
    job_id     BIGINT PRIMARY KEY,
    steps      TEXT NOT NULL,
    advance_on TEXT NOT NULL,
    next_step  INTEGER NOT NULL,
    due_at     BIGINT                     -- advance_on clock: when the next step is due (epoch ms)
);
