//! The versioned schema of each dialect, embedded in the binary (`migrations/{sqlite,postgres}`)
//! and applied with sqlx's migrator (which records them in `_sqlx_migrations`; on PostgreSQL
//! it takes an advisory lock, so workers starting together are safe).

use std::borrow::Cow;

use futures_util::future::BoxFuture;
use sqlx::error::BoxDynError;
use sqlx::migrate::{Migration, MigrationSource, MigrationType, Migrator};

use crate::sql::Dialect;

const SQLITE: &[(i64, &str, &str)] = &[(
    1,
    "outbox",
    include_str!("../migrations/sqlite/0001_outbox.sql"),
)];

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
