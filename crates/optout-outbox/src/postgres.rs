//! The shared store: PostgreSQL, for many workers on many machines. Claims use
//! `FOR UPDATE SKIP LOCKED`, so workers never wait on each other's rows; an accept returns
//! after its transaction commits.

use std::time::Duration;

use sqlx::any::AnyPoolOptions;

use crate::sql::{Dialect, SqlStore};
use crate::{redact, Error};

/// Connects to `url` (`postgres://user:password@host:port/db`) and applies the migrations.
pub(crate) async fn open(url: &str) -> Result<SqlStore, Error> {
    crate::install_drivers();
    let label = redact(url);
    let pool = AnyPoolOptions::new()
        .max_connections(8)
        // A statement waits this long for a connection; past it the worker says the store is
        // away (one line) and keeps retrying.
        .acquire_timeout(Duration::from_secs(3))
        .connect(url)
        .await
        .map_err(|e| Error::store(&label, e))?;
    let store = SqlStore {
        pool,
        dialect: Dialect::Postgres,
        label,
    };
    crate::migrations::migrator(Dialect::Postgres)
        .await
        .map_err(|e| Error::store(&store.label, e))?
        .run(&store.pool)
        .await
        .map_err(|e| Error::store(&store.label, e))?;
    Ok(store)
}
