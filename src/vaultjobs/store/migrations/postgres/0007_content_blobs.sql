-- vaultjobs on PostgreSQL, schema 7: document and rendition bytes in the database, so that every
-- node of a cluster reads the files any node stored (content_files keeps the rows' bookkeeping).
-- A blob row is inserted in the same transaction as all its chunks; ~1 MB chunks keep each read
-- and write small whatever the file's size. BYTEA values this size go to TOAST uncompressed.

CREATE TABLE content_blobs (
    sha256 TEXT PRIMARY KEY,
    size   BIGINT NOT NULL
);

CREATE TABLE content_blob_chunks (
    sha256 TEXT NOT NULL REFERENCES content_blobs(sha256) ON DELETE CASCADE,
    n      INTEGER NOT NULL,
    data   BYTEA NOT NULL,
    PRIMARY KEY (sha256, n)
);
-- Document files are mostly compressed formats (PDF, ZIP, images): do not spend CPU compressing them again.
ALTER TABLE content_blob_chunks ALTER COLUMN data SET STORAGE EXTERNAL;
