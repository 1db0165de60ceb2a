-- The claim reads pending tasks `ORDER BY deadline, next_attempt_at, id` with a LIMIT. Its
-- index lacked `id`, so the order was only the index's up to ties, and without statistics
-- (a queue filled faster than autovacuum analyzes it: 100,000 opt-outs enqueued, then a
-- worker started) the planner read every pending task with a bitmap scan and sorted them
-- all, on every claim: 140 ms per claim of 400 over 100,000 tasks, a spill to disk, and a
-- drain that slowed with the queue's length. With `id` the index gives the claim's order
-- exactly, and the claim (with bitmap scans off for its transaction, see `SqlStore::claim`)
-- reads about as many entries as it claims, whatever the statistics say.
DROP INDEX tasks_due;
CREATE INDEX tasks_due ON tasks (state, deadline, next_attempt_at, id);
