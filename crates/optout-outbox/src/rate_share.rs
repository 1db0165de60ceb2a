//! The PostgreSQL store as an [`optout_core::RateShare`]: every worker sharing the store
//! takes its request slots from one row per key, so that together they keep to one limit.
//!
//! One statement per request: an upsert that moves the key's next free slot `spacing` past
//! the later of itself and the database's clock, and answers the slot taken and that clock.
//! The row lock serialises the workers; the database's clock is the only one read, so the
//! workers' own clocks may disagree. A pause one worker learned from the provider (a 429's
//! `Retry-After`) moves the key's next free slot past it, so every worker waits it out.
//! SQLite does not share (see [`Store::rate_share`]).
//!
//! [`Store::rate_share`]: crate::Store::rate_share

use std::time::Duration;

use async_trait::async_trait;
use optout_core::{RateShare, RateShareError, SharedSlot};
use sqlx::{AnyPool, Row};

use crate::Error;

/// The start of both statements: a key seen for the first time gets its row with the next
/// free slot `$2` microseconds after the database's clock (the one clock every worker reads).
macro_rules! insert_key_at_now_plus {
    () => {
        "INSERT INTO rate_slots AS r (key, next_at, taken_at) \
         SELECT $1, c.now_us + $2, c.now_us \
         FROM (SELECT CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000000 AS BIGINT) AS now_us) c "
    };
}

/// Takes the next slot of `$1`, `$2` microseconds after the one before it; answers the slot
/// (`start_us`) and the database's clock (`now_us`).
const NEXT_SLOT: &str = concat!(
    insert_key_at_now_plus!(),
    "ON CONFLICT (key) DO UPDATE \
     SET next_at = GREATEST(r.next_at, EXCLUDED.taken_at) + $2, taken_at = EXCLUDED.taken_at \
     RETURNING r.next_at - $2 AS start_us, r.taken_at AS now_us"
);

/// Holds `$1`'s slots until `$2` microseconds from the database's clock: the key's next free
/// slot moves there unless it is already later.
const PAUSE: &str = concat!(
    insert_key_at_now_plus!(),
    "ON CONFLICT (key) DO UPDATE SET next_at = GREATEST(r.next_at, EXCLUDED.next_at)"
);

/// Request slots in a PostgreSQL store's `rate_slots` table.
#[derive(Clone)]
pub(crate) struct PgRateShare {
    pub(crate) pool: AnyPool,
    /// The store URL without its password, for messages.
    pub(crate) label: String,
}

impl std::fmt::Debug for PgRateShare {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The label only: the pool's options are nobody's business in a log.
        f.debug_struct("PgRateShare")
            .field("store", &self.label)
            .finish_non_exhaustive()
    }
}

fn micros(us: i64) -> Duration {
    Duration::from_micros(u64::try_from(us).unwrap_or(0))
}

#[async_trait]
impl RateShare for PgRateShare {
    async fn next_slot(&self, key: &str, spacing: Duration) -> Result<SharedSlot, RateShareError> {
        let spacing = i64::try_from(spacing.as_micros())
            .unwrap_or(i64::MAX / 4)
            .max(1);
        let row = sqlx::query(NEXT_SLOT)
            .bind(key)
            .bind(spacing)
            .fetch_one(&self.pool)
            .await
            .map_err(|e| Error::store(&self.label, e))?;
        let start: i64 = row
            .try_get("start_us")
            .map_err(|e| Error::store(&self.label, e))?;
        let now: i64 = row
            .try_get("now_us")
            .map_err(|e| Error::store(&self.label, e))?;
        Ok(SharedSlot {
            start: micros(start),
            now: micros(now),
        })
    }

    async fn pause(&self, key: &str, wait: Duration) -> Result<(), RateShareError> {
        let wait = i64::try_from(wait.as_micros()).unwrap_or(i64::MAX / 4);
        sqlx::query(PAUSE)
            .bind(key)
            .bind(wait)
            .execute(&self.pool)
            .await
            .map_err(|e| Error::store(&self.label, e))?;
        Ok(())
    }
}
