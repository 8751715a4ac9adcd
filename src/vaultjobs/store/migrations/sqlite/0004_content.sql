-- vaultjobs schema 4: the content repository (documents, versions, renditions, binders, submissions)
-- and what the document jobs need (their requests and per-item results).
-- File bytes live under <data_dir>/files/, named by their SHA-256; rows only point at them.

CREATE TABLE content_files (
    sha256     TEXT PRIMARY KEY,
    size       INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);

-- A document or a binder (Vault: binders are documents with binder__v = true).
CREATE TABLE documents (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    binder     INTEGER NOT NULL DEFAULT 0,
    created_by INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    -- JSON {"viewer__v": [user ids], ...}: who besides the creator and admins may read it.
    roles      TEXT NOT NULL DEFAULT '{}'
);

CREATE TABLE document_versions (
    document_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
    major       INTEGER NOT NULL,
    minor       INTEGER NOT NULL,
    -- JSON of the version's field values (name__v, type__v, lifecycle__v, status__v, ...).
    fields      TEXT NOT NULL,
    filename    TEXT,
    sha256      TEXT REFERENCES content_files(sha256),
    size        INTEGER,
    mime        TEXT,
    created_by  INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (document_id, major, minor)
);

CREATE TABLE renditions (
    document_id    INTEGER NOT NULL,
    major          INTEGER NOT NULL,
    minor          INTEGER NOT NULL,
    rendition_type TEXT NOT NULL,
    filename       TEXT NOT NULL,
    sha256         TEXT NOT NULL REFERENCES content_files(sha256),
    size           INTEGER NOT NULL,
    mime           TEXT,
    created_at     INTEGER NOT NULL,
    PRIMARY KEY (document_id, major, minor, rendition_type),
    FOREIGN KEY (document_id, major, minor) REFERENCES document_versions(document_id, major, minor)
        ON DELETE CASCADE
);

-- The structure of each binder version: sections and document references under 'rootNode'.
CREATE TABLE binder_nodes (
    binder_id      INTEGER NOT NULL,
    major          INTEGER NOT NULL,
    minor          INTEGER NOT NULL,
    node_id        TEXT NOT NULL,
    parent_id      TEXT NOT NULL,
    kind           TEXT NOT NULL CHECK (kind IN ('section', 'document')),
    name           TEXT NOT NULL,
    section_number TEXT,
    document_id    INTEGER REFERENCES documents(id),
    binding_rule   TEXT,
    doc_major      INTEGER,
    doc_minor      INTEGER,
    ord            INTEGER NOT NULL,
    PRIMARY KEY (binder_id, major, minor, node_id),
    FOREIGN KEY (binder_id, major, minor) REFERENCES document_versions(document_id, major, minor)
        ON DELETE CASCADE
);
CREATE INDEX binder_nodes_parent ON binder_nodes(binder_id, major, minor, parent_id, ord);

-- Submissions imported into binders (Vault's submission__v records, reduced to what the jobs use).
CREATE TABLE submissions (
    id         TEXT PRIMARY KEY,
    binder_id  INTEGER REFERENCES documents(id),
    section_id TEXT,
    job_id     INTEGER,
    created_by INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);

-- What a document job was asked (the ids can be far larger than the 8 KB of job parameters).
CREATE TABLE content_requests (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    created_by INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    body       TEXT NOT NULL
);

-- Per-item outcomes of document jobs, in request order (n) then version order (k).
CREATE TABLE content_job_results (
    job_id INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    n      INTEGER NOT NULL,
    k      INTEGER NOT NULL,
    data   TEXT NOT NULL,
    PRIMARY KEY (job_id, n, k)
);
