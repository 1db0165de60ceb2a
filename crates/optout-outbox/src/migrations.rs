//! The versioned schema of each dialect, embedded in the binary (`migrations/{sqlite,postgres}`)
//! and applied with sqlx's migrator (which records them in `_sqlx_migrations`; on PostgreSQL
//! it takes an advisory lock, so workers starting together are safe).

use std::borrow::Cow;

use futures_util::future::BoxFuture;
use sqlx::error::BoxDynError;
use sqlx::migrate::{Migration, MigrationSource, MigrationType, Migrator};

use crate::sql::Dialect;

const SQLITE: &[(i64, &str, &str)] = &[
    (
        1,
        "outbox",
        include_str!("../migrations/sqlite/0001_outbox.sql"),
    ),
    (
        2,
        "partial_due_indexes",
        include_str!("../migrations/sqlite/0002_partial_due_indexes.sql"),
    ),
    (
        3,
        "attempt_history",
        include_str!("../migrations/sqlite/0003_attempt_history.sql"),
    ),
];

const POSTGRES: &[(i64, &str, &str)] = &[
    (
        1,
        "outbox",
        include_str!("../migrations/postgres/0001_outbox.sql"),
    ),
    (
        2,
        "rate_slots",
        include_str!("../migrations/postgres/0002_rate_slots.sql"),
    ),
    (
        3,
        "attempt_history",
        include_str!("../migrations/postgres/0003_attempt_history.sql"),
    ),
    (
        4,
        "claim_order_index",
        include_str!("../migrations/postgres/0004_claim_order_index.sql"),
    ),
    (
        5,
        "partial_due_indexes",
        include_str!("../migrations/postgres/0005_partial_due_indexes.sql"),
    ),
];

#[derive(Debug)]
struct Embedded(&'static [(i64, &'static str, &'static str)]);

impl<'s> MigrationSource<'s> for Embedded {
    fn resolve(self) -> BoxFuture<'s, Result<Vec<Migration>, BoxDynError>> {
        Box::pin(async move {
            Ok(self
                .0
                .iter()
                .map(|(version, name, sql)| {
                    Migration::new(
                        *version,
                        Cow::Borrowed(*name),
                        MigrationType::Simple,
                        Cow::Borrowed(*sql),
                        false,
                    )
                })
                .collect())
        })
    }
}

/// The migrator of `dialect`.
pub(crate) async fn migrator(dialect: Dialect) -> Result<Migrator, sqlx::migrate::MigrateError> {
    Migrator::new(Embedded(match dialect {
        Dialect::Sqlite => SQLITE,
        Dialect::Postgres => POSTGRES,
    }))
    .await
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use optout_core::{Outcome, Provider, Receipt, Topics};
    use sqlx::any::AnyPoolOptions;
    use sqlx::Row;

    use super::*;
    use crate::sql::SqlStore;
    use crate::{Deadlines, OptOut, Store};

    fn receipt_for(t: &crate::Task) -> Receipt {
        Receipt::new(
            t.provider,
            t.recipient.clone(),
            t.topics.clone(),
            Outcome::Unsubscribed,
            Some(format!("ref-{}", t.lease.task_id)),
        )
    }

    /// A store written under the first release's schema (migration 1 alone), with a receipt
    /// and tasks still pending, opens with the later migrations applied: the due index is
    /// replaced by the partial ones, the chain still verifies, and the pending tasks are
    /// claimed and closed onto the same chain.
    async fn an_old_store_migrates_and_keeps_its_chain(
        dialect: Dialect,
        url: &str,
        indexes_sql: &str,
    ) {
        crate::install_drivers();
        let lease = Duration::from_secs(30);
        let hubspot = [Provider::HubSpot];
        {
            let pool = AnyPoolOptions::new()
                .max_connections(1)
                .connect(url)
                .await
                .unwrap();
            let first = match dialect {
                Dialect::Sqlite => &SQLITE[..1],
                Dialect::Postgres => &POSTGRES[..1],
            };
            Migrator::new(Embedded(first))
                .await
                .unwrap()
                .run(&pool)
                .await
                .unwrap();
            let old = SqlStore {
                pool: pool.clone(),
                dialect,
                label: "old".into(),
            };
            let opt_outs: Vec<OptOut> = (0..3)
                .map(|i| {
                    OptOut::default()
                        .email(format!("old-{i}@example.com"))
                        .topics(Provider::HubSpot, Topics::one("123"))
                        .source("before the upgrade")
                })
                .collect();
            old.accept_many(&opt_outs, &Deadlines::default())
                .await
                .unwrap();
            let first = old.claim(&hubspot, 1, "old-worker", lease).await.unwrap();
            let r = old
                .complete(&first[0], &receipt_for(&first[0]))
                .await
                .unwrap();
            assert!(r.is_some());
            pool.close().await;
        }
        let store = match dialect {
            Dialect::Sqlite => {
                let path = url
                    .trim_start_matches("sqlite:")
                    .trim_end_matches("?mode=rwc");
                crate::sqlite::open(path).await
            }
            Dialect::Postgres => crate::postgres::open(url).await,
        }
        .unwrap();
        let indexes: Vec<String> = sqlx::query(indexes_sql)
            .fetch_all(&store.pool)
            .await
            .unwrap()
            .iter()
            .map(|r| r.get::<String, _>(0))
            .collect();
        assert_eq!(
            indexes,
            ["tasks_in_flight", "tasks_opt_out", "tasks_pending"],
            "the partial indexes replace tasks_due"
        );
        let v = store.verify().await.unwrap();
        assert_eq!((v.records, v.first_bad), (1, None));
        let rest = store
            .claim(&hubspot, 10, "new-worker", lease)
            .await
            .unwrap();
        assert_eq!(
            rest.len(),
            2,
            "the pending tasks are claimed after the upgrade"
        );
        let done: Vec<_> = rest.iter().map(|t| (t.clone(), receipt_for(t))).collect();
        let closed = store.complete_many(&done).await.unwrap();
        assert!(closed.iter().all(Option::is_some));
        assert_eq!(closed[0].as_ref().unwrap().seq, 2);
        let v = store.verify().await.unwrap();
        assert_eq!((v.records, v.first_bad), (3, None));
        assert_eq!(store.counts().await.unwrap().total.done, 3);
        assert_eq!(store.next_due(&hubspot).await.unwrap(), None);
        store.pool.close().await;
    }

    #[tokio::test]
    async fn an_old_sqlite_file_migrates_and_keeps_its_chain() {
        let dir = std::env::temp_dir().join(format!("optout-migrate-{:016x}", fastrand::u64(..)));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("old.db").to_str().unwrap().to_string();
        an_old_store_migrates_and_keeps_its_chain(
            Dialect::Sqlite,
            &format!("sqlite:{path}?mode=rwc"),
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'tasks' \
             AND sql IS NOT NULL ORDER BY name",
        )
        .await;
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_old_postgres_database_migrates_and_keeps_its_chain() {
        let Some(cluster) = optout_testkit::pg::shared() else {
            return;
        };
        an_old_store_migrates_and_keeps_its_chain(
            Dialect::Postgres,
            &cluster.create_database("migrate"),
            "SELECT indexname::text FROM pg_indexes WHERE tablename = 'tasks' \
             AND indexname <> 'tasks_pkey' ORDER BY indexname",
        )
        .await;
    }
}
