//! `--dry-run`: the requests `unsubscribe` and `bulk` would send, printed; nothing is sent.
//!
//! Text: one line per request on stdout (`provider METHOD URL [headers] body`), then one
//! `  then: ...` line per request that depends on an answer; bulk ends with the summary line
//! `dry run: N requests, nothing sent (R rows, I refused)`. JSON: the plan (unsubscribe), or
//! one object per request and the summary (bulk). Refused rows go to stderr as in a run.

use std::process::ExitCode;

use optout::bulk::{BatchPlan, BulkJob};
use optout::{Error, Provider, Unsubscribe};

use crate::{exit_code, print, Connection};

/// `optout unsubscribe ... --dry-run`: exit 0 with the plan, or 2 with why it would be
/// refused (bad input, configuration).
pub async fn unsubscribe(
    request: Result<(Provider, Unsubscribe), Error>,
    connection: &Connection,
    json: bool,
) -> ExitCode {
    let planned = async {
        let (provider, request) = request?;
        let client = optout::from_env(provider, &connection.overrides())?;
        client.plan(&request).await
    };
    match planned.await {
        Ok(plan) => {
            if json {
                print::out(print::to_json(&plan));
            } else if !plan.requests.is_empty() || !plan.then.is_empty() {
                print::out(&plan);
            }
            print::diag(format_args!(
                "optout: dry run: {} requests, nothing sent",
                plan.requests.len()
            ));
            ExitCode::SUCCESS
        }
        Err(error) => {
            print::error(&error, json);
            exit_code(&error)
        }
    }
}

/// `optout bulk ... --dry-run`: exit 0 when every row would be sent, 2 when some would be
/// refused or the run cannot start.
pub async fn bulk(
    provider: Provider,
    connection: &Connection,
    job: BulkJob,
    input: Result<Box<dyn std::io::Read + Send>, Error>,
    json: bool,
) -> ExitCode {
    let mut noted: Vec<String> = Vec::new();
    let on_batch = |batch: &BatchPlan| {
        for (line, error) in &batch.refused {
            print::diag(format_args!("line {line}: {error}"));
        }
        for request in &batch.plan.requests {
            if json {
                print::out(print::to_json(request));
            } else {
                print::out(request);
            }
        }
        for note in &batch.plan.then {
            if !noted.contains(note) {
                noted.push(note.clone());
                if json {
                    print::out(print::to_json(&serde_json::json!({ "then": note })));
                } else {
                    print::out(format_args!("  then: {note}"));
                }
            }
        }
    };
    let planned = async {
        let client = optout::from_env(provider, &connection.overrides())?;
        optout::bulk::plan(client, input?, &job, on_batch).await
    };
    match planned.await {
        Ok(summary) => {
            if json {
                print::out(print::to_json(&summary));
            } else {
                print::out(summary);
            }
            if summary.all_valid() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(2)
            }
        }
        Err(error) => {
            print::error(&error, json);
            exit_code(&error)
        }
    }
}
