//! `optout-bench durable-floor`: the least a durable outbox can do per opt-out, written by
//! hand, so the worker's drain has a floor to be measured against (as the provider clients
//! have their plain reqwest loops).
//!
//! What it keeps, because an outbox that drops any of it is no longer durable: tasks in the
//! same store kind as the worker's (SQLite WAL with `synchronous=FULL`, or PostgreSQL with
//! its durability as shipped); a claim under a lease committed before the provider is called
//! (`FOR UPDATE SKIP LOCKED` on PostgreSQL, so several processes share the queue); the same
//! HubSpot v4 batch writes of 100 rows; the answer decoded and each row confirmed from it;
//! then ONE transaction per batch that closes its tasks and appends one receipt per task to a
//! SHA-256 hash chain held in a head row, indexed by recipient and by time (receipts must be
//! found by both).
//!
//! What it leaves out, so it is a floor (faster than any real outbox can be): no deadline,
//! no attempt history, no reclaiming of expired leases, no retry scheduling, no legal basis
//! or source, one provider and one topic, an email address as the whole task, prepared
//! statements of the native driver with positional parameters, nothing to configure.
//!
//! `durable-floor setup STORE ROWS`: creates its own tables (`floor_*`) and fills ROWS tasks;
//! `durable-floor drain STORE BASE CONCURRENCY`: drains until nothing is pending and prints
//! one JSON line (`{"done": N, "secs": S}`).

use super::*;
use sha2::{Digest, Sha256};

/// Rows per batch write, as the worker sends them.
const BATCH: usize = 100;
/// Rows per insert statement while filling.
const FILL: usize = 500;

/// One store: the native sqlx pool of its kind.
enum Db {
    Sqlite(sqlx::SqlitePool),
    Pg(sqlx::PgPool),
}

/// Runs `$body` with `$pool` bound to whichever pool `$db` holds (the statements are the
/// same text; only the placeholders differ, see [`Db::ph`]).
macro_rules! on_pool {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db {
            Db::Sqlite($pool) => $body,
            Db::Pg($pool) => $body,
        }
    };
}

impl Db {
    async fn open(url: &str, connections: u32) -> Result<Db, BoxError> {
        if let Some(path) = url.strip_prefix("sqlite:") {
            let opts = sqlx::sqlite::SqliteConnectOptions::new()
                .filename(path)
                .create_if_missing(true)
                .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
                .synchronous(sqlx::sqlite::SqliteSynchronous::Full)
                .busy_timeout(Duration::from_secs(30));
            let pool = sqlx::sqlite::SqlitePoolOptions::new()
                .max_connections(connections)
                .connect_with(opts)
                .await?;
            Ok(Db::Sqlite(pool))
        } else {
            let pool = sqlx::postgres::PgPoolOptions::new()
                .max_connections(connections)
                .connect(url)
                .await?;
            Ok(Db::Pg(pool))
        }
    }

    /// Placeholder number `n` (1-based): `?` on SQLite (bound in order: SQLite looks named
    /// parameters up by walking a list), `$n` on PostgreSQL.
    fn ph(&self, n: usize) -> String {
        match self {
            Db::Sqlite(_) => "?".to_string(),
            Db::Pg(_) => format!("${n}"),
        }
    }

    /// `count` groups of `width` placeholders, numbered from `first`: `(?, ?), (?, ?)`.
    fn groups(&self, first: usize, count: usize, width: usize) -> String {
        (0..count)
            .map(|g| {
                let cols = (0..width)
                    .map(|c| self.ph(first + g * width + c))
                    .collect::<Vec<_>>()
                    .join(", ");
                format!("({cols})")
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    async fn setup(&self, rows: u64) -> Result<(), BoxError> {
        let (id, seq) = match self {
            Db::Sqlite(_) => ("INTEGER PRIMARY KEY", "INTEGER PRIMARY KEY"),
            Db::Pg(_) => ("BIGSERIAL PRIMARY KEY", "BIGINT PRIMARY KEY"),
        };
        let ddl = [
            format!(
                "CREATE TABLE floor_tasks (id {id}, state INTEGER NOT NULL DEFAULT 0, \
                 lease_until BIGINT NOT NULL DEFAULT 0, email TEXT NOT NULL)"
            ),
            // Only pending tasks are in the claim's index: a closed task leaves it.
            "CREATE INDEX floor_due ON floor_tasks (id) WHERE state = 0".to_string(),
            format!(
                "CREATE TABLE floor_receipts (seq {seq}, task_id BIGINT NOT NULL, \
                 email TEXT NOT NULL, completed_at BIGINT NOT NULL, prev_hash TEXT NOT NULL, \
                 hash TEXT NOT NULL)"
            ),
            // Receipts must be found by recipient and by time (issue 15), so those two
            // indexes are part of the floor; one provider, so time alone.
            "CREATE INDEX floor_receipts_email ON floor_receipts (email)".to_string(),
            "CREATE INDEX floor_receipts_time ON floor_receipts (completed_at)".to_string(),
            "CREATE TABLE floor_head (id INTEGER PRIMARY KEY, seq BIGINT NOT NULL, \
             hash TEXT NOT NULL)"
                .to_string(),
            format!("INSERT INTO floor_head VALUES (1, 0, '{}')", "0".repeat(64)),
        ];
        for sql in &ddl {
            on_pool!(self, p => sqlx::query(sql).execute(p).await.map(drop))?;
        }
        let mut next = 0;
        while next < rows {
            let n = (rows - next).min(FILL as u64);
            let sql = format!(
                "INSERT INTO floor_tasks (email) VALUES {}",
                self.groups(1, n as usize, 1)
            );
            on_pool!(self, p => {
                let mut q = sqlx::query(&sql);
                for i in next..next + n {
                    q = q.bind(Prov::HubSpot.recipient(i));
                }
                q.execute(p).await.map(drop)
            })?;
            next += n;
        }
        Ok(())
    }

    /// Claims up to [`BATCH`] pending tasks under a lease (committed on return).
    async fn claim(&self) -> Result<Vec<(i64, String)>, BoxError> {
        let lock = match self {
            Db::Sqlite(_) => "",
            Db::Pg(_) => " FOR UPDATE SKIP LOCKED",
        };
        let sql = format!(
            "UPDATE floor_tasks SET state = 1, lease_until = {} WHERE id IN \
             (SELECT id FROM floor_tasks WHERE state = 0 ORDER BY id LIMIT {BATCH}{lock}) \
             RETURNING id, email",
            self.ph(1)
        );
        let until = now_ms() + 30_000;
        Ok(on_pool!(self, p => {
            sqlx::query_as::<_, (i64, String)>(&sql).bind(until).fetch_all(p).await
        })?)
    }

    /// Puts unconfirmed tasks back (a floor does not schedule retries).
    async fn release(&self, ids: &[i64]) -> Result<(), BoxError> {
        if ids.is_empty() {
            return Ok(());
        }
        let sql = format!(
            "UPDATE floor_tasks SET state = 0 WHERE id IN ({})",
            (1..=ids.len())
                .map(|i| self.ph(i))
                .collect::<Vec<_>>()
                .join(", ")
        );
        on_pool!(self, p => {
            let mut q = sqlx::query(&sql);
            for id in ids {
                q = q.bind(*id);
            }
            q.execute(p).await.map(drop)
        })?;
        Ok(())
    }

    /// Closes the confirmed tasks and appends their receipts to the chain, in one transaction.
    async fn close(&self, done: &[(i64, String)]) -> Result<(), BoxError> {
        if done.is_empty() {
            return Ok(());
        }
        let close = format!(
            "UPDATE floor_tasks SET state = 2 WHERE state = 1 AND id IN ({})",
            (1..=done.len())
                .map(|i| self.ph(i))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let head = format!(
            "UPDATE floor_head SET seq = seq + {} WHERE id = 1 RETURNING seq, hash",
            self.ph(1)
        );
        let insert = format!(
            "INSERT INTO floor_receipts (seq, task_id, email, completed_at, prev_hash, hash) \
             VALUES {}",
            self.groups(1, done.len(), 6)
        );
        let set_head = format!("UPDATE floor_head SET hash = {} WHERE id = 1", self.ph(1));
        let now = now_ms();
        on_pool!(self, p => {
            async {
                let mut tx = p.begin().await?;
                let mut q = sqlx::query(&close);
                for (id, _) in done {
                    q = q.bind(*id);
                }
                q.execute(&mut *tx).await?;
                let (last, mut prev): (i64, String) = sqlx::query_as(&head)
                    .bind(done.len() as i64)
                    .fetch_one(&mut *tx)
                    .await?;
                let mut seq = last - done.len() as i64;
                let mut q = sqlx::query(&insert);
                for (id, email) in done {
                    seq += 1;
                    let hash = chain(&prev, seq, *id, email, now);
                    q = q
                        .bind(seq)
                        .bind(*id)
                        .bind(email.as_str())
                        .bind(now)
                        .bind(std::mem::replace(&mut prev, hash.clone()))
                        .bind(hash);
                }
                q.execute(&mut *tx).await?;
                sqlx::query(&set_head).bind(prev).execute(&mut *tx).await?;
                tx.commit().await
            }
            .await
        })?;
        Ok(())
    }

    /// (tasks closed, receipts written).
    async fn counts(&self) -> Result<(i64, i64), BoxError> {
        let sql = "SELECT (SELECT COUNT(*) FROM floor_tasks WHERE state = 2), \
                   (SELECT COUNT(*) FROM floor_receipts)";
        Ok(on_pool!(self, p => sqlx::query_as::<_, (i64, i64)>(sql).fetch_one(p).await)?)
    }
}

/// A receipt's hash: SHA-256 over the previous hash, a newline and the receipt's JSON.
fn chain(prev: &str, seq: i64, task_id: i64, email: &str, completed_at: i64) -> String {
    let body = json!({
        "seq": seq, "task_id": task_id, "email": email, "outcome": "unsubscribed",
        "completed_at": completed_at,
    });
    let mut h = Sha256::new();
    h.update(prev.as_bytes());
    h.update(b"\n");
    h.update(body.to_string().as_bytes());
    hex::encode(h.finalize())
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Sends one batch as `optout-hubspot` does; answers whether it was a 2xx, and the body.
async fn send(
    client: &reqwest::Client,
    base: &str,
    batch: &[(i64, String)],
) -> Result<(bool, impl AsRef<[u8]>), BoxError> {
    let mut req = client.post(format!("{base}{HUBSPOT_BATCH_PATH}"));
    for (name, value) in Prov::HubSpot.headers() {
        req = req.header(name, value);
    }
    let res = req
        .body(child::hubspot_batch_of(
            batch.iter().map(|(_, email)| email),
        ))
        .send()
        .await?;
    let success = res.status().is_success();
    Ok((success, res.bytes().await?))
}

/// One process's drain: `concurrency` loops of claim, send, close, until nothing is pending.
async fn drain(db: Arc<Db>, base: String, concurrency: usize) -> Result<Value, BoxError> {
    let client = reqwest::Client::builder().tcp_nodelay(true).build()?;
    let started = Instant::now();
    let done = Arc::new(AtomicU64::new(0));
    let mut loops = Vec::new();
    for _ in 0..concurrency {
        let (db, base, client, done) = (db.clone(), base.clone(), client.clone(), done.clone());
        loops.push(tokio::spawn(async move {
            loop {
                let batch = db.claim().await?;
                if batch.is_empty() {
                    return Ok::<_, BoxError>(());
                }
                let (success, body) = send(&client, &base, &batch).await?;
                let answer = success
                    .then(|| child::HubSpotAnswer::decode(body.as_ref()))
                    .flatten();
                let confirmed = answer.as_ref().map(child::HubSpotAnswer::confirmed);
                let (ok, not): (Vec<_>, Vec<_>) = batch
                    .into_iter()
                    .partition(|(_, email)| confirmed.as_ref().is_some_and(|c| c.confirms(email)));
                db.close(&ok).await?;
                db.release(&not.iter().map(|(id, _)| *id).collect::<Vec<_>>())
                    .await?;
                done.fetch_add(ok.len() as u64, Relaxed);
            }
        }));
    }
    for l in loops {
        l.await??;
    }
    Ok(json!({ "done": done.load(Relaxed), "secs": started.elapsed().as_secs_f64() }))
}

/// `optout-bench durable-floor setup STORE ROWS | drain STORE BASE CONCURRENCY | counts STORE`.
pub(crate) fn main(args: &[String]) -> Result<(), BoxError> {
    let arg = |i: usize| {
        args.get(i)
            .cloned()
            .ok_or_else(|| BoxError::from("durable-floor: missing argument"))
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let v = rt.block_on(async {
        match arg(0)?.as_str() {
            "setup" => {
                let db = Db::open(&arg(1)?, 1).await?;
                db.setup(arg(2)?.parse()?).await?;
                Ok(json!({ "rows": arg(2)?.parse::<u64>()? }))
            }
            "drain" => {
                let concurrency: usize = arg(3)?.parse()?;
                let db = Arc::new(Db::open(&arg(1)?, concurrency as u32 + 1).await?);
                drain(db, arg(2)?, concurrency).await
            }
            "counts" => {
                let (closed, receipts) = Db::open(&arg(1)?, 1).await?.counts().await?;
                Ok(json!({ "closed": closed, "receipts": receipts }))
            }
            other => Err(BoxError::from(format!(
                "durable-floor: unknown step {other:?}"
            ))),
        }
    })?;
    println!("{v}");
    Ok(())
}
