//! A dry run of a bulk job: the input read as a run reads it, each batch planned with the
//! client's [`plan_many`](optout_core::Unsubscriber::plan_many), nothing sent and no journal
//! read or written.

use std::fmt;
use std::io::Read;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use optout_core::{Error, Plan, Unsubscribe, Unsubscriber};
use serde::Serialize;
use tokio::sync::mpsc;

use super::drive::Row;
use super::journal::Done;
use super::read::read_rows;
use super::{BulkJob, RowResult};

/// One batch of a dry run: the requests it would send, and the rows refused before sending.
#[derive(Debug)]
#[non_exhaustive]
pub struct BatchPlan {
    /// The input lines of the rows in the batch (the refused ones included).
    pub lines: Vec<u64>,
    /// What the batch would send.
    pub plan: Plan,
    /// The rows that would be refused before anything is sent: their line and why.
    pub refused: Vec<(u64, Error)>,
}

/// The counts at the end of a dry run.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct PlanSummary {
    /// Always true: nothing was sent (for scripts reading the JSON).
    pub dry_run: bool,
    /// Rows read.
    pub rows: u64,
    /// Rows refused before sending (bad input).
    pub refused: u64,
    /// Requests a run would send first (those that depend on answers are not counted).
    pub requests: u64,
}

impl PlanSummary {
    /// Whether every row would be sent (none refused).
    pub fn all_valid(&self) -> bool {
        self.refused == 0
    }
}

impl fmt::Display for PlanSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "dry run: {} requests, nothing sent ({} rows, {} refused)",
            self.requests, self.rows, self.refused
        )
    }
}

/// Plans `job` over the CSV `input` with `client`: reads the input as [`run`](super::run)
/// does (same columns, same row checks), folds the rows into batches of the client's
/// [`batch_size`](Unsubscriber::batch_size) (HubSpot: 100) and hands each batch's plan to
/// `on_batch` as it is made, so that memory stays flat however long the input. Nothing is
/// sent; the journal is neither read nor written (every row is planned). A real run may send
/// shorter batches when its input arrives slowly.
///
/// Errors only for what stops the whole run (a missing `recipient` column, an unreadable
/// header, an input that fails part way), as [`run`](super::run) does.
pub async fn plan<R: Read + Send + 'static>(
    client: Arc<dyn Unsubscriber>,
    input: R,
    job: &BulkJob,
    mut on_batch: impl FnMut(&BatchPlan),
) -> Result<PlanSummary, Error> {
    let batch = client.batch_size().max(1);
    let (tx, mut rx) = mpsc::channel::<Vec<Row>>(4);
    let mut reader_job = job.clone();
    reader_job.journal = None;
    let provider = client.provider();
    let reader = tokio::task::spawn_blocking(move || {
        let lines = AtomicU64::new(0);
        read_rows(
            input,
            &reader_job,
            provider,
            batch,
            &Done::default(),
            &tx,
            None, // a dry run writes no journal, so reserves no records
            &lines,
        )
    });
    let mut summary = PlanSummary {
        dry_run: true,
        ..PlanSummary::default()
    };
    let mut pending: Vec<(u64, Option<Unsubscribe>, Option<Error>)> = Vec::new();
    while let Some(rows) = rx.recv().await {
        for row in rows {
            summary.rows += 1;
            let refused = match row.tag.ended.map(|ended| *ended) {
                Some(RowResult::Failed(error)) => Some(error),
                _ => None,
            };
            pending.push((row.tag.line, row.request, refused));
            if pending.iter().filter(|(_, r, _)| r.is_some()).count() == batch {
                one_batch(&client, &mut pending, &mut summary, &mut on_batch).await;
            }
        }
    }
    if !pending.is_empty() {
        one_batch(&client, &mut pending, &mut summary, &mut on_batch).await;
    }
    match reader.await {
        Ok(read) => read.map(|()| summary),
        Err(e) => Err(Error::interrupted(format!("the input reader failed: {e}"))),
    }
}

/// Plans the rows in `pending` (and empties it).
async fn one_batch(
    client: &Arc<dyn Unsubscriber>,
    pending: &mut Vec<(u64, Option<Unsubscribe>, Option<Error>)>,
    summary: &mut PlanSummary,
    on_batch: &mut impl FnMut(&BatchPlan),
) {
    let rows = std::mem::take(pending);
    let mut refused = Vec::new();
    let mut lines = Vec::with_capacity(rows.len());
    let mut requests = Vec::new();
    let mut request_lines = Vec::new();
    for (line, request, error) in rows {
        lines.push(line);
        match (request, error) {
            (Some(request), _) => {
                requests.push(request);
                request_lines.push(line);
            }
            (None, Some(error)) => refused.push((line, error)),
            (None, None) => {}
        }
    }
    let (plan, checked) = if requests.is_empty() {
        (Plan::default(), Vec::new())
    } else {
        client.plan_many(&requests).await
    };
    for (line, result) in request_lines.into_iter().zip(checked) {
        if let Err(error) = result {
            refused.push((line, error));
        }
    }
    refused.sort_by_key(|(line, _)| *line);
    summary.refused += refused.len() as u64;
    summary.requests += plan.requests.len() as u64;
    on_batch(&BatchPlan {
        lines,
        plan,
        refused,
    });
}
