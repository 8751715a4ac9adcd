-- vaultjobs schema 1: users, sessions, jobs, tasks, logs, status windows, workers.
-- All times are UTC epoch milliseconds.

CREATE TABLE users (
    id                  INTEGER PRIMARY KEY,
    username            TEXT NOT NULL UNIQUE COLLATE NOCASE,
    password_hash       TEXT NOT NULL,
    timezone            TEXT NOT NULL DEFAULT 'UTC',
    is_admin            INTEGER NOT NULL DEFAULT 0,
    active              INTEGER NOT NULL DEFAULT 1,
    failed_logins       INTEGER NOT NULL DEFAULT 0,
    locked_until        INTEGER,
    password_changed_at INTEGER NOT NULL,
    created_at          INTEGER NOT NULL
);

CREATE TABLE sessions (
    token_hash BLOB PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX sessions_user ON sessions(user_id);

CREATE TABLE auth_attempts (
    username     TEXT NOT NULL,
    window_start INTEGER NOT NULL,
    attempts     INTEGER NOT NULL,
    PRIMARY KEY (username, window_start)
) WITHOUT ROWID;

CREATE TABLE jobs (
    id                    INTEGER PRIMARY KEY AUTOINCREMENT,
    processor             TEXT NOT NULL,
    title                 TEXT,
    parameters            TEXT NOT NULL,
    status                TEXT NOT NULL,
    method                TEXT,
    scheduled             INTEGER NOT NULL DEFAULT 0,
    created_by            INTEGER NOT NULL,
    created_at            INTEGER NOT NULL,
    modified_by           INTEGER NOT NULL,
    modified_at           INTEGER NOT NULL,
    scheduled_for         INTEGER,
    run_start             INTEGER,
    run_end               INTEGER,
    phase                 TEXT,
    worker_id             TEXT,
    progress_at           INTEGER,
    idempotent            INTEGER NOT NULL DEFAULT 0,
    timeout_ms            INTEGER,
    inactivity_timeout_ms INTEGER,
    result                TEXT
);
-- The queue: oldest QUEUED job first; the scheduler: SCHEDULED by time.
CREATE INDEX jobs_status ON jobs(status, id);
CREATE INDEX jobs_scheduled ON jobs(scheduled_for) WHERE status = 'SCHEDULED';
CREATE INDEX jobs_worker ON jobs(worker_id) WHERE worker_id IS NOT NULL;

CREATE TABLE tasks (
    job_id      INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    seq         INTEGER NOT NULL,
    state       TEXT NOT NULL,
    payload     TEXT NOT NULL,
    worker_id   TEXT,
    attempts    INTEGER NOT NULL DEFAULT 0,
    started_at  INTEGER,
    finished_at INTEGER,
    message     TEXT,
    output      TEXT,
    PRIMARY KEY (job_id, seq)
);
CREATE INDEX tasks_state ON tasks(state, job_id, seq);
CREATE INDEX tasks_worker ON tasks(worker_id) WHERE state = 'RUNNING';

CREATE TABLE job_log (
    id      INTEGER PRIMARY KEY,
    job_id  INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    at      INTEGER NOT NULL,
    message TEXT NOT NULL
);
CREATE INDEX job_log_job ON job_log(job_id, id);

CREATE TABLE status_polls (
    job_id    INTEGER PRIMARY KEY,
    polled_at INTEGER NOT NULL
);

CREATE TABLE workers (
    id           TEXT PRIMARY KEY,
    hostname     TEXT NOT NULL,
    pid          INTEGER NOT NULL,
    started_at   INTEGER NOT NULL,
    heartbeat_at INTEGER NOT NULL,
    stopped_at   INTEGER
) WITHOUT ROWID;
