-- vaultjobs schema 8: the session epoch. API nodes keep validated sessions in memory for a few
-- seconds; each request still reads this one-row counter (in the same statement as its other
-- reads), and a cached session counts only while the counter has not moved since it was checked.
-- The database itself moves it, so that every way a session can end or a user can change (logout,
-- expiry, purge, password change, deactivation, the admin CLI in another process) reaches every node
-- at once.

CREATE TABLE session_epoch (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    epoch INTEGER NOT NULL
);
INSERT INTO session_epoch (id, epoch) VALUES (1, 0);

CREATE TRIGGER session_epoch_on_session_end AFTER DELETE ON sessions
BEGIN
    UPDATE session_epoch SET epoch = epoch + 1 WHERE id = 1;
END;

CREATE TRIGGER session_epoch_on_user_change
AFTER UPDATE OF username, password_hash, timezone, is_admin, active ON users
BEGIN
    UPDATE session_epoch SET epoch = epoch + 1 WHERE id = 1;
END;

CREATE TRIGGER session_epoch_on_user_delete AFTER DELETE ON users
BEGIN
    UPDATE session_epoch SET epoch = epoch + 1 WHERE id = 1;
END;
