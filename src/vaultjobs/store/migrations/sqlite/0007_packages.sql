-- vaultjobs schema 7: files kept with object records. A package's .vpk (kind 'archive', kept from
-- the import request, keyed by the package id allocated there), its logs (kind 'attachment': what
-- Vault serves as record attachments, Validation.log and Deployment.log) and its data deployment
-- logs (kind 'data_log'). A package is a record like any other; its files live here, beside it, in
-- the same database, so every node of a cluster reads them.

CREATE TABLE object_files (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    record_id  TEXT NOT NULL,
    kind       TEXT NOT NULL,
    filename   TEXT NOT NULL,
    media_type TEXT NOT NULL,
    md5        TEXT NOT NULL,
    size       INTEGER NOT NULL,
    body       BLOB NOT NULL,
    created_by INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX object_files_record ON object_files(record_id, kind, id);
