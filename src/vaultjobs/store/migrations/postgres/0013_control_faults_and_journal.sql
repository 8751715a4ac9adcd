-- vaultjobs schema 13 (PostgreSQL): the control plane's fault rules and request journal, in the store
-- so that a rule set through one replica fires on every replica, its counts are the cluster's, and
-- the journal shows the requests every replica answered.
CREATE TABLE control_faults (
    id       BIGSERIAL PRIMARY KEY,
    rule     TEXT NOT NULL,
    calls    BIGINT NOT NULL DEFAULT 0,
    hits     BIGINT NOT NULL DEFAULT 0
);
-- A bounded ring: writers drop what is older than the newest few thousand.
CREATE TABLE control_requests (
    id           BIGSERIAL PRIMARY KEY,
    at           BIGINT NOT NULL,
    method       TEXT NOT NULL,
    path         TEXT NOT NULL,
    route        TEXT,
    operation    TEXT,
    status       INTEGER,
    error_type   TEXT,
    username     TEXT,
    duration_ms  DOUBLE PRECISION NOT NULL,
    headers      TEXT NOT NULL,
    fault        BIGINT
);
CREATE INDEX control_requests_at ON control_requests (at);
