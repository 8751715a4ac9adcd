-- vaultjobs schema 15: the control plane's fault rules and request journal, in the store so that a
-- rule set through one replica fires on every replica, its counts are the cluster's, and the journal
-- shows the requests every replica answered.
CREATE TABLE control_faults (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    rule     TEXT NOT NULL,
    calls    INTEGER NOT NULL DEFAULT 0,
    hits     INTEGER NOT NULL DEFAULT 0
);
-- A bounded ring: writers drop what is older than the newest few thousand.
CREATE TABLE control_requests (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    at           INTEGER NOT NULL,
    method       TEXT NOT NULL,
    path         TEXT NOT NULL,
    route        TEXT,
    operation    TEXT,
    status       INTEGER,
    error_type   TEXT,
    username     TEXT,
    duration_ms  REAL NOT NULL,
    headers      TEXT NOT NULL,
    fault        INTEGER
);
