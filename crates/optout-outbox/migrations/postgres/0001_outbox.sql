-- The outbox: opt-outs as received, one task per provider and recipient, every attempt, and
-- the hash-chained receipts. Times are BIGINT milliseconds since the Unix epoch (UTC), set by
-- the application's clock (the same columns as the SQLite schema).
CREATE TABLE opt_outs (
    id TEXT PRIMARY KEY,
    idempotency_key TEXT UNIQUE,
    received_at BIGINT NOT NULL,
    accepted_at BIGINT NOT NULL,
    legal_basis TEXT,
    legal_basis_explanation TEXT,
    source TEXT,
    request TEXT NOT NULL
);

CREATE TABLE tasks (
    id BIGSERIAL PRIMARY KEY,
    opt_out_id TEXT NOT NULL REFERENCES opt_outs (id),
    provider TEXT NOT NULL,
    recipient TEXT NOT NULL,
    recipient_text TEXT NOT NULL,
    topics TEXT NOT NULL,
    legal_basis TEXT,
    legal_basis_explanation TEXT,
    source TEXT,
    received_at BIGINT NOT NULL,
    deadline BIGINT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'in_flight', 'done', 'needs_attention')),
    attempt BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    lease_owner TEXT,
    lease_until BIGINT,
    last_error TEXT,
    updated_at BIGINT NOT NULL
);
CREATE INDEX tasks_due ON tasks (state, deadline, next_attempt_at);
CREATE INDEX tasks_opt_out ON tasks (opt_out_id);

CREATE TABLE attempts (
    task_id BIGINT NOT NULL REFERENCES tasks (id),
    attempt BIGINT NOT NULL,
    finished_at BIGINT NOT NULL,
    result TEXT NOT NULL,
    error TEXT,
    PRIMARY KEY (task_id, attempt)
);

CREATE TABLE receipts (
    seq BIGINT PRIMARY KEY,
    opt_out_id TEXT NOT NULL,
    task_id BIGINT NOT NULL UNIQUE,
    provider TEXT NOT NULL,
    recipient TEXT NOT NULL,
    recipient_text TEXT NOT NULL,
    topics TEXT NOT NULL,
    outcome TEXT NOT NULL,
    reference TEXT,
    received_at BIGINT NOT NULL,
    completed_at BIGINT NOT NULL,
    deadline BIGINT NOT NULL,
    deadline_met BIGINT NOT NULL,
    attempts BIGINT NOT NULL,
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
CREATE FUNCTION optout_receipts_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'receipts are append-only';
END;
$$;
CREATE TRIGGER receipts_append_only BEFORE UPDATE OR DELETE ON receipts
FOR EACH ROW EXECUTE FUNCTION optout_receipts_append_only();

-- The last receipt's position and hash; its row lock serialises receipt writers.
CREATE TABLE chain_head (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    seq BIGINT NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO chain_head (id, seq, hash)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');
