-- vaultjobs schema 10: the control plane's event log (clock moves, fired faults, forced transitions),
-- in the store so that every replica streams the same events. A bounded ring: publishers drop what
-- is older than the newest few thousand.
CREATE TABLE control_events (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    at      INTEGER NOT NULL,
    kind    TEXT NOT NULL,
    job_id  INTEGER,
    data    TEXT NOT NULL
);
