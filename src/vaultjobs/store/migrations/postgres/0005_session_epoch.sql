-- vaultjobs on PostgreSQL, schema 5: the session epoch (as SQLite's 0008). API nodes keep validated
-- sessions in memory for a few seconds; each request still reads this one-row counter (in the same
-- statement as its other reads), and a cached session counts only while the counter has not moved
-- since it was checked. The database itself moves it, so that every way a session can end or a user
-- can change (logout, expiry, purge, password change, deactivation, the admin CLI) reaches every
-- replica at once.

CREATE TABLE session_epoch (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    epoch BIGINT NOT NULL
);
INSERT INTO session_epoch (id, epoch) VALUES (1, 0);

CREATE FUNCTION bump_session_epoch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM changed) THEN
        UPDATE session_epoch SET epoch = epoch + 1 WHERE id = 1;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER session_epoch_on_session_end AFTER DELETE ON sessions
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION bump_session_epoch();
CREATE TRIGGER session_epoch_on_user_delete AFTER DELETE ON users
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION bump_session_epoch();
-- Transition tables are not allowed with a column list: a row-level trigger for users, changed rarely.
CREATE FUNCTION bump_session_epoch_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE session_epoch SET epoch = epoch + 1 WHERE id = 1;
    RETURN NULL;
END
$$;
CREATE TRIGGER session_epoch_on_user_change
    AFTER UPDATE OF username, password_hash, timezone, is_admin, active ON users
    FOR EACH ROW EXECUTE FUNCTION bump_session_epoch_row();

-- Status windows need not survive a crash of the database (they last seconds, and a crash lasts
-- longer): unlogged, their upsert writes no WAL and its commit waits for no disk flush.
ALTER TABLE status_polls SET UNLOGGED;
