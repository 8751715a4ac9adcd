-- vaultjobs schema 9: Vault's burst limit, counted across the cluster. One row per fixed window:
-- every node adds what it answered there about once a second and reads the total back.
CREATE TABLE burst_windows (
    window_start INTEGER PRIMARY KEY,
    requests     INTEGER NOT NULL
);
