-- A confirmed attempt is written once, as its receipt: the receipt holds the task, the attempt
-- number (`attempts`) and when it finished (`completed_at`). The `attempts` table keeps the
-- attempts that failed (rescheduled or parked, with the error). Before this migration a
-- confirmed attempt was also an `attempts` row ('done'), one more indexed and foreign-key
-- checked row per task in the transaction that closes it (on PostgreSQL 18% of a drain's
-- statement time, `pg_stat_statements`, 100,000 tasks).
--
-- `attempt_history` gives every attempt of every task in one place, as before: the failed ones
-- from `attempts`, the confirmed one from its receipt (a 'done' row written before this
-- migration is the same attempt as its receipt, so it is left out of the first half).
CREATE VIEW attempt_history AS
SELECT task_id, attempt, finished_at, result, error FROM attempts WHERE result <> 'done'
UNION ALL
SELECT task_id, attempts AS attempt, completed_at AS finished_at, 'done' AS result, NULL AS error
FROM receipts;

-- Receipts of one opt-out are found through its tasks (`tasks_opt_out`, then the receipts'
-- unique `task_id`): an index of receipts by opt-out was one more index entry per receipt.
DROP INDEX receipts_opt_out;
