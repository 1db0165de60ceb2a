//! `optout status` and `optout receipts`: counts, one opt-out's state, the receipts, their chain.

use std::process::ExitCode;

use clap::{Args, ValueEnum};
use optout::outbox::{self, ReceiptQuery, ReceiptRecord, StatusCounts};
use optout::Provider;

use super::{fail, json, StoreArg};
use crate::ProviderArg;

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    store: StoreArg,
    /// Print the counts as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Format {
    Table,
    Json,
    Csv,
}

#[derive(Debug, Args)]
pub struct ReceiptsArgs {
    #[command(flatten)]
    store: StoreArg,
    /// Only this recipient's receipts.
    #[arg(long, value_name = "VALUE")]
    recipient: Option<String>,
    /// Only this provider's receipts.
    #[arg(long, value_name = "P")]
    provider: Option<ProviderArg>,
    /// table, json (one object per line) or csv.
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
    /// Check the hash chain; exit 1 naming the first record that does not match.
    #[arg(long)]
    verify: bool,
}

/// `optout status`.
pub async fn status(args: StatusArgs) -> ExitCode {
    let counts = match args.store.open().await {
        Ok(o) => o.counts().await,
        Err(e) => Err(e),
    };
    match counts {
        Ok(c) if args.json => {
            println!("{}", json(&c));
            ExitCode::SUCCESS
        }
        Ok(c) => {
            print!("{}", counts_table(&c));
            ExitCode::SUCCESS
        }
        Err(e) => fail(&e),
    }
}

fn counts_table(c: &StatusCounts) -> String {
    let row = |name: String, n: &outbox::Counts| {
        vec![
            name,
            n.pending.to_string(),
            n.in_flight.to_string(),
            n.done.to_string(),
            n.needs_attention.to_string(),
            n.overdue.to_string(),
        ]
    };
    let mut rows: Vec<Vec<String>> = c
        .providers
        .iter()
        .map(|(p, n)| row(p.to_string(), n))
        .collect();
    rows.push(row("total".into(), &c.total));
    crate::print::table(
        &[
            "provider",
            "pending",
            "in flight",
            "done",
            "needs attention",
            "overdue",
        ],
        &rows,
    )
}

/// `optout receipts`.
pub async fn receipts(args: ReceiptsArgs) -> ExitCode {
    let outbox = match args.store.open().await {
        Ok(o) => o,
        Err(e) => return fail(&e),
    };
    if args.verify {
        return match outbox.verify().await {
            Ok(v) => match v.first_bad {
                None => {
                    println!("receipt chain verified: {} records", v.records);
                    ExitCode::SUCCESS
                }
                Some(bad) => {
                    eprintln!(
                        "optout: receipt chain broken at record {}: {}",
                        bad.seq, bad.reason
                    );
                    ExitCode::from(1)
                }
            },
            Err(e) => fail(&e),
        };
    }
    let mut q = ReceiptQuery::default();
    if let Some(r) = &args.recipient {
        q = q.recipient(r.clone());
    }
    if let Some(p) = args.provider {
        q = q.provider(Provider::from(p));
    }
    let list = match outbox.receipts(&q).await {
        Ok(l) => l,
        Err(e) => return fail(&e),
    };
    match args.format {
        Format::Json => {
            for r in &list {
                println!("{}", json(r));
            }
        }
        Format::Csv => print!("{}", receipts_csv(&list)),
        Format::Table => {
            let rows: Vec<Vec<String>> = list
                .iter()
                .map(|r| {
                    vec![
                        r.seq.to_string(),
                        r.provider.to_string(),
                        r.recipient.to_string(),
                        r.topics.to_string(),
                        r.outcome.to_string(),
                        humantime::format_rfc3339_seconds(r.completed_at).to_string(),
                        humantime::format_rfc3339_seconds(r.deadline).to_string(),
                        if r.deadline_met { "yes" } else { "LATE" }.to_string(),
                        r.attempts.to_string(),
                    ]
                })
                .collect();
            print!(
                "{}",
                crate::print::table(
                    &[
                        "#",
                        "provider",
                        "recipient",
                        "topics",
                        "outcome",
                        "completed",
                        "deadline",
                        "met",
                        "attempts"
                    ],
                    &rows
                )
            );
        }
    }
    ExitCode::SUCCESS
}

fn receipts_csv(list: &[ReceiptRecord]) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    let _ = w.write_record([
        "seq",
        "opt_out_id",
        "provider",
        "recipient",
        "topics",
        "outcome",
        "reference",
        "received_at",
        "completed_at",
        "deadline",
        "deadline_met",
        "attempts",
        "legal_basis",
        "legal_basis_explanation",
        "source",
        "prev_hash",
        "hash",
    ]);
    let t = |t| humantime::format_rfc3339_millis(t).to_string();
    for r in list {
        let _ = w.write_record([
            r.seq.to_string(),
            r.opt_out_id.clone(),
            r.provider.to_string(),
            r.recipient.to_string(),
            r.topics.to_string(),
            json(&r.outcome).trim_matches('"').to_string(),
            r.reference.clone().unwrap_or_default(),
            t(r.received_at),
            t(r.completed_at),
            t(r.deadline),
            r.deadline_met.to_string(),
            r.attempts.to_string(),
            r.legal_basis
                .map(|b| b.as_str().to_string())
                .unwrap_or_default(),
            r.legal_basis_explanation.clone().unwrap_or_default(),
            r.source.clone().unwrap_or_default(),
            r.prev_hash.clone(),
            r.hash.clone(),
        ]);
    }
    String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
}
