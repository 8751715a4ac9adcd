-- vaultjobs schema 6: Vault objects. The catalog (object and picklist definitions, as MDL left them)
-- is one JSON document with a revision for compare-and-swap; records are rows with their field
-- values as JSON, beside two index tables the database itself keeps honest: unique field values
-- (a clash is a primary-key conflict, whichever node writes) and Object field values (who points at
-- a record: children for deep copy and cascade delete, referrers for block and setnull).
-- The object jobs keep their plan (deep copy: source → copy id, fixed before anything is written) and
-- their per-record results here too.

CREATE TABLE object_catalog (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    revision    INTEGER NOT NULL,
    body        TEXT NOT NULL,
    modified_at INTEGER NOT NULL
);

-- Who created and last changed each object's definition (Retrieve Object Metadata shows them).
CREATE TABLE object_stamps (
    name        TEXT PRIMARY KEY,
    created_by  INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    modified_by INTEGER NOT NULL,
    modified_at INTEGER NOT NULL
);

-- The last record number handed out per object prefix (ids are prefix + 12 digits).
CREATE TABLE object_sequences (
    prefix TEXT PRIMARY KEY,
    last   INTEGER NOT NULL
);

CREATE TABLE object_records (
    id          TEXT PRIMARY KEY,
    object      TEXT NOT NULL,
    name        TEXT,
    data        TEXT NOT NULL,
    created_by  INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    modified_by INTEGER NOT NULL,
    modified_at INTEGER NOT NULL
);
CREATE INDEX object_records_by_object ON object_records(object, id);
CREATE INDEX object_records_by_name ON object_records(object, name);

CREATE TABLE object_unique_values (
    object    TEXT NOT NULL,
    field     TEXT NOT NULL,
    value     TEXT NOT NULL,
    record_id TEXT NOT NULL REFERENCES object_records(id) ON DELETE CASCADE,
    PRIMARY KEY (object, field, value)
);
CREATE INDEX object_unique_values_record ON object_unique_values(record_id);

CREATE TABLE object_references (
    record_id TEXT NOT NULL REFERENCES object_records(id) ON DELETE CASCADE,
    object    TEXT NOT NULL,
    field     TEXT NOT NULL,
    target_id TEXT NOT NULL,
    PRIMARY KEY (record_id, field)
);
CREATE INDEX object_references_target ON object_references(target_id);

CREATE TABLE object_job_plans (
    job_id    INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    n         INTEGER NOT NULL,
    object    TEXT NOT NULL,
    source_id TEXT NOT NULL,
    target_id TEXT,
    parent_n  INTEGER,
    PRIMARY KEY (job_id, n)
);

CREATE TABLE object_job_results (
    job_id  INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    outcome TEXT NOT NULL,
    n       INTEGER NOT NULL,
    data    TEXT NOT NULL,
    PRIMARY KEY (job_id, outcome, n)
);

-- What an object job was asked that does not fit its 8 KB of parameters (an MDL script).
CREATE TABLE object_requests (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    created_by INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    body       TEXT NOT NULL
);

-- Deleted record ids, for Retrieve Deleted Object Record ID (listed for 30 days).
CREATE TABLE object_deletions (
    object     TEXT NOT NULL,
    id         TEXT NOT NULL,
    deleted_at INTEGER NOT NULL,
    PRIMARY KEY (object, deleted_at, id)
);
