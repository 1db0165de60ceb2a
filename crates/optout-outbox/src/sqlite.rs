//! The embedded store: one SQLite file in WAL mode with `synchronous=FULL`, so an accepted
//! opt-out survives a crash or a power cut once `accept` returns.
//!
//! SQLite has one writer at a time: every write transaction starts with a write, so it waits
//! for the lock (`busy_timeout`) instead of failing on upgrade, and a claim is one
//! `UPDATE ... WHERE id IN (SELECT ... LIMIT n) RETURNING` statement.

use std::time::Duration;

use sqlx::any::AnyPoolOptions;
use sqlx::Executor;

use crate::sql::{Dialect, SqlStore};
use crate::Error;

/// Opens (creating if needed) the SQLite file at `path` and applies the migrations.
pub(crate) async fn open(path: &str) -> Result<SqlStore, Error> {
    if path.is_empty() {
        return Err(Error::Url(
            "sqlite: needs a file path, e.g. sqlite:optout.db".into(),
        ));
    }
    crate::install_drivers();
    let label = format!("sqlite:{path}");
    let url = format!("sqlite:{path}?mode=rwc");
    let pool = AnyPoolOptions::new()
        .max_connections(4)
        .acquire_timeout(Duration::from_secs(30))
        .after_connect(|conn, _| {
            Box::pin(async move {
                conn.execute("PRAGMA busy_timeout = 30000").await?;
                conn.execute("PRAGMA journal_mode = WAL").await?;
                conn.execute("PRAGMA synchronous = FULL").await?;
                conn.execute("PRAGMA foreign_keys = ON").await?;
                Ok(())
            })
        })
        .connect(&url)
        .await
        .map_err(|e| Error::store(&label, e))?;
    let store = SqlStore {
        pool,
        dialect: Dialect::Sqlite,
        label,
    };
    crate::migrations::migrator(Dialect::Sqlite)
        .await
        .map_err(|e| Error::store(&store.label, e))?
        .run(&store.pool)
        .await
        .map_err(|e| Error::store(&store.label, e))?;
    Ok(store)
}
