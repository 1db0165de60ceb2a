-- The outbox: opt-outs as received, one task per provider and recipient, every attempt, and
-- the hash-chained receipts. Times are integer milliseconds since the Unix epoch (UTC).
CREATE TABLE opt_outs (
    id TEXT PRIMARY KEY,
    idempotency_key TEXT UNIQUE,
    received_at INTEGER NOT NULL,
    accepted_at INTEGER NOT NULL,
    legal_basis TEXT,
    legal_basis_explanation TEXT,
    source TEXT,
    request TEXT NOT NULL
);

CREATE TABLE tasks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    opt_out_id TEXT NOT NULL REFERENCES opt_outs (id),
    provider TEXT NOT NULL,
    recipient TEXT NOT NULL,
    recipient_text TEXT NOT NULL,
    topics TEXT NOT NULL,
    legal_basis TEXT,
    legal_basis_explanation TEXT,
    source TEXT,
    received_at INTEGER NOT NULL,
    deadline INTEGER NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'in_flight', 'done', 'needs_attention')),
    attempt INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    lease_owner TEXT,
    lease_until INTEGER,
    last_error TEXT,
    updated_at INTEGER NOT NULL
);
CREATE INDEX tasks_due ON tasks (state, deadline, next_attempt_at);
CREATE INDEX tasks_opt_out ON tasks (opt_out_id);

CREATE TABLE attempts (
    task_id INTEGER NOT NULL REFERENCES tasks (id),
    attempt INTEGER NOT NULL,
    finished_at INTEGER NOT NULL,
    result TEXT NOT NULL,
    error TEXT,
    PRIMARY KEY (task_id, attempt)
);

CREATE TABLE receipts (
    seq INTEGER PRIMARY KEY,
    opt_out_id TEXT NOT NULL,
    task_id INTEGER NOT NULL UNIQUE,
    provider TEXT NOT NULL,
    recipient TEXT NOT NULL,
    recipient_text TEXT NOT NULL,
    topics TEXT NOT NULL,
    outcome TEXT NOT NULL,
    reference TEXT,
    received_at INTEGER NOT NULL,
    completed_at INTEGER NOT NULL,
    deadline INTEGER NOT NULL,
    deadline_met INTEGER NOT NULL,
    attempts INTEGER NOT NULL,
    legal_basis TEXT,
    legal_basis_explanation TEXT,
    source TEXT,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX receipts_recipient ON receipts (recipient_text);
CREATE INDEX receipts_provider ON receipts (provider, completed_at);
CREATE INDEX receipts_opt_out ON receipts (opt_out_id);

-- Receipts are append-only.
CREATE TRIGGER receipts_no_update BEFORE UPDATE ON receipts
BEGIN SELECT RAISE(ABORT, 'receipts are append-only'); END;
CREATE TRIGGER receipts_no_delete BEFORE DELETE ON receipts
BEGIN SELECT RAISE(ABORT, 'receipts are append-only'); END;

-- The last receipt's position and hash; its row lock serialises receipt writers.
CREATE TABLE chain_head (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    seq INTEGER NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO chain_head (id, seq, hash)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');
