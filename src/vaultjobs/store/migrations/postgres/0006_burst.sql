-- vaultjobs schema 6 (PostgreSQL): Vault's burst limit, counted across the cluster. One row per fixed
-- window: every node adds what it answered there about once a second and reads the total back.
-- Unlogged: a crash of the server forgets at most the current window's count, which only lifts the
-- limit for the rest of that window.
CREATE UNLOGGED TABLE burst_windows (
    window_start BIGINT PRIMARY KEY,
    requests     BIGINT NOT NULL
);
