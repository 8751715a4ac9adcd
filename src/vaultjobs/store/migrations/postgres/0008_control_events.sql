-- vaultjobs schema 8 (PostgreSQL): the control plane's event log (clock moves, fired faults, forced
-- transitions), in the store so that every replica streams the same events. A bounded ring:
-- publishers drop what is older than the newest few thousand.
CREATE TABLE control_events (
    id      BIGSERIAL PRIMARY KEY,
    at      BIGINT NOT NULL,
    kind    TEXT NOT NULL,
    job_id  BIGINT,
    data    TEXT NOT NULL
);
