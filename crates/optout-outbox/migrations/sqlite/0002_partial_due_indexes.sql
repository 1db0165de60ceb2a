-- The claim reads pending and in-flight tasks in deadline order. One index over
-- (state, deadline, next_attempt_at) also kept every done task: each close moved the task's
-- entry to the 'done' slice, and the index grew with the whole history. Two partial indexes,
-- one per state the claim reads: a closed task leaves them, and they stay as small as the
-- queue. (SQLite appends the rowid, the task id, to every entry: the claim's order
-- `deadline, next_attempt_at, id` is the index's.)
DROP INDEX tasks_due;
CREATE INDEX tasks_pending ON tasks (deadline, next_attempt_at) WHERE state = 'pending';
CREATE INDEX tasks_in_flight ON tasks (deadline, next_attempt_at) WHERE state = 'in_flight';
