//! `optout bulk`: the job and input the arguments name, run with a progress bar and Ctrl-C,
//! and its summary printed.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use optout::bulk::{BulkJob, RowResult};
use optout::{Error, Provider};

use crate::{bulk_guard, dry_run, exit_code, print, BulkArgs};

pub(crate) async fn bulk(args: BulkArgs) -> ExitCode {
    let json = args.json;
    if args.dry_run {
        let provider = Provider::from(args.provider);
        let job = bulk_job(&args);
        let input = open_input(&args.input);
        return dry_run::bulk(provider, &args.connection, job, input, json).await;
    }
    let journal = args.journal.clone();
    let (summary, ended) = match run_bulk(args).await {
        Ok(ran) => ran,
        Err(error) => {
            print::error(&error, json);
            return exit_code(&error);
        }
    };
    match ended {
        Ok(()) => {
            print::summary(&summary, json);
            if summary.all_done() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(error) if !error.was_sent() => {
            // Refused before anything was sent (input, usage, configuration): exit 2.
            print::error(&error, json);
            exit_code(&error)
        }
        Err(error) => {
            // Stopped part way: what was done, then why it stopped and how to go on.
            print::summary(&summary, json);
            print::error(&error, json);
            match &journal {
                Some(path) => print::diag(format_args!(
                    "optout: run the same command again (same --journal {}) to continue: done rows are skipped",
                    path.display()
                )),
                None => print::diag(
                    "optout: without --journal a rerun sends every row again; give --journal FILE to continue where a run stopped",
                ),
            }
            ExitCode::from(1)
        }
    }
}

async fn run_bulk(args: BulkArgs) -> Result<(optout::bulk::Summary, Result<(), Error>), Error> {
    let provider = Provider::from(args.provider);
    let mut overrides = args.connection.overrides();
    overrides.rate_limit = args.rate;
    let client = optout::from_env(provider, &overrides)?;
    let mut job = bulk_job(&args);
    if let Some(path) = args.journal {
        bulk_guard::journal_is_not_input(&args.input, &path)?;
        job = job.journal(path).destination(bulk_guard::destination(
            provider,
            args.connection.base_url.as_deref(),
        ));
    }
    let input = open_input(&args.input)?;
    let bar = if std::io::stderr().is_terminal() {
        let bar = ProgressBar::new_spinner();
        bar.set_style(
            ProgressStyle::with_template("{spinner} {pos} rows  {per_sec}  {elapsed}  {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.enable_steady_tick(Duration::from_millis(200));
        Some(bar)
    } else {
        None
    };
    // Ctrl-C: rows in flight finish and are journaled, nothing more is sent, and the partial
    // summary is printed. (If the handler cannot be set up, the run is simply not stoppable.)
    let stop = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    let ran = optout::bulk::run_until(
        Arc::clone(&client),
        input,
        &job,
        |row| {
            if let RowResult::Failed(error) = &row.result {
                let line = format!("line {}: {error}", row.line);
                match &bar {
                    Some(bar) => bar.println(line),
                    None => print::diag(line),
                }
            }
            if let Some(bar) = &bar {
                bar.inc(1);
            }
        },
        stop,
    )
    .await;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    Ok(ran)
}

/// The job the arguments describe (without the journal).
fn bulk_job(args: &BulkArgs) -> BulkJob {
    let mut job = BulkJob::new()
        .all_topics(args.topics.all_topics)
        .concurrency(args.concurrency as usize);
    job.topics = args.topics.topics.clone();
    if let (Some(basis), Some(why)) = (args.legal_basis, &args.legal_basis_explanation) {
        job = job.legal_basis(basis, why.clone());
    }
    job
}

/// The input file, or standard input for `-`.
fn open_input(path: &str) -> Result<Box<dyn std::io::Read + Send>, Error> {
    if path == "-" {
        return Ok(Box::new(std::io::stdin()));
    }
    let file = std::fs::File::open(path)
        .map_err(|e| Error::invalid_input("input", format!("cannot open {path:?}: {e}")))?;
    Ok(Box::new(std::io::BufReader::with_capacity(1 << 16, file)))
}
