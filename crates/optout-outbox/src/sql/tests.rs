//! The claim's plan on PostgreSQL, against a real server (a throwaway cluster; skipped loudly
//! where PostgreSQL is not installed, failing with CI=true).

use std::time::Duration;

use optout_core::{Provider, Topics};

use super::*;
use crate::{Deadlines, OptOut};

/// The rows each scan of `tasks` read, from `EXPLAIN ANALYZE`'s text: `(line, rows)`.
fn task_scans(plan: &[String]) -> Vec<(String, u64)> {
    plan.iter()
        .filter(|l| l.contains(" on tasks") && l.contains("actual"))
        .map(|l| {
            let actual = &l[l.find("actual").unwrap_or(0)..];
            let rows = actual
                .split("rows=")
                .nth(1)
                .and_then(|r| r.split(' ').next())
                .and_then(|r| r.parse().ok())
                .unwrap_or(u64::MAX);
            (l.trim().to_string(), rows)
        })
        .collect()
}

/// A queue filled faster than autovacuum analyzes it (no statistics at all): the claim reads
/// about as many pending tasks as it claims, not the whole queue (which a bitmap scan and a
/// sort of every pending task did, on every claim).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_on_an_unanalyzed_queue_reads_what_it_claims() {
    let Some(cluster) = optout_testkit::pg::shared() else {
        return;
    };
    let url = cluster.create_database("claimplan");
    let store = crate::postgres::open(&url).await.unwrap();
    sqlx::raw_sql("ALTER TABLE tasks SET (autovacuum_enabled = false)")
        .execute(&store.pool)
        .await
        .unwrap();
    let opt_outs: Vec<OptOut> = (0..3000)
        .map(|i| {
            OptOut::default()
                .email(format!("user{i}@example.com"))
                .topics(Provider::HubSpot, Topics::one("123"))
        })
        .collect();
    for chunk in opt_outs.chunks(1000) {
        store
            .accept_many(chunk, &Deadlines::default())
            .await
            .unwrap();
    }
    let limit = 100;
    let now = SystemTime::now();
    let (sql, args) = store.claim_sql(
        &[Provider::HubSpot],
        limit,
        "w",
        to_ms(now + Duration::from_secs(30)),
        to_ms(now),
    );
    // Through the claim's own runner (its transaction and settings); EXPLAIN ANALYZE runs
    // the update too, in this throwaway database.
    let plan: Vec<String> = store
        .fetch_claim(&format!("EXPLAIN (ANALYZE, COSTS OFF) {sql}"), args)
        .await
        .unwrap()
        .iter()
        .map(|r| r.try_get::<String, _>(0).unwrap())
        .collect();
    let scans = task_scans(&plan);
    assert!(
        !scans.is_empty(),
        "no scan of tasks in:\n{}",
        plan.join("\n")
    );
    for (line, rows) in &scans {
        assert!(
            *rows <= limit as u64,
            "a scan read {rows} tasks to claim {limit}: {line}\n{}",
            plan.join("\n")
        );
    }
}
