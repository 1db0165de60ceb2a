-- Rate limits shared by every worker of one store (optout_core::RateShare): one row per key (a
-- provider and a fingerprint of the account, never a secret). `next_at` is the key's next free
-- request slot and `taken_at` the time the last slot was taken, both BIGINT microseconds since
-- the Unix epoch on the database's clock, the one clock every worker reads.
CREATE TABLE rate_slots (
    key TEXT PRIMARY KEY,
    next_at BIGINT NOT NULL,
    taken_at BIGINT NOT NULL
);
