//! `optout enqueue`: opt-outs from the command line or a CSV, committed a chunk at a time.

use std::io::Write;
use std::process::ExitCode;

use clap::Args;
use optout::outbox::{self, OptOut};
use optout::{LegalBasis, Provider, Recipient};

use super::{fail, json, StoreArg};
use crate::{parse_legal_basis, topics, ProviderArg, TopicArgs};

#[derive(Debug, Args)]
pub struct EnqueueArgs {
    /// migma | novu | pushy | mobivate | hubspot
    provider: ProviderArg,
    /// Email (hubspot), phone (mobivate), device token (pushy), subscriber id (novu), contact id (migma).
    #[arg(
        long,
        value_name = "VALUE",
        required_unless_present = "input",
        conflicts_with = "input"
    )]
    recipient: Option<String>,
    /// A CSV file (header `recipient[,topic][,identifier]`, as `optout bulk`), or - for stdin.
    #[arg(long, value_name = "FILE")]
    input: Option<String>,
    #[command(flatten)]
    topics: TopicArgs,
    /// Novu subscription identifier.
    #[arg(long, value_name = "ID")]
    identifier: Option<String>,
    /// Legal basis, e.g. consent-with-notice, legitimate-interest-client, non-gdpr.
    #[arg(long, value_name = "BASIS", value_parser = parse_legal_basis, requires = "legal_basis_explanation")]
    legal_basis: Option<LegalBasis>,
    /// The explanation that goes with --legal-basis.
    #[arg(long, value_name = "TEXT", requires = "legal_basis")]
    legal_basis_explanation: Option<String>,
    /// Where the opt-out came from (kept in the receipt).
    #[arg(long, value_name = "TEXT")]
    source: Option<String>,
    /// The same key again gives the first id back and stores nothing (with --input: KEY:LINE).
    #[arg(long, value_name = "KEY")]
    idempotency_key: Option<String>,
    #[command(flatten)]
    store: StoreArg,
    /// Print JSON (one object per opt-out) on stdout.
    #[arg(long)]
    json: bool,
    /// Opt-outs committed per transaction with --input (ids are printed after each commit).
    #[arg(long, value_name = "N", default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..), hide = true)]
    chunk: u32,
}

/// `optout enqueue`.
pub async fn enqueue(args: EnqueueArgs) -> ExitCode {
    let provider = Provider::from(args.provider);
    let opt_outs = match opt_outs(&args, provider) {
        Ok(o) => o,
        Err(e) => return fail(&e),
    };
    let outbox = match args.store.open().await {
        Ok(o) => o,
        Err(e) => return fail(&e),
    };
    // One transaction per chunk: the ids of a chunk are printed only once it is committed,
    // so every id on stdout is durable; a failed chunk stores nothing of itself.
    let mut out = std::io::stdout();
    for chunk in opt_outs.chunks(args.chunk as usize) {
        let accepted = match outbox.accept_many(chunk).await {
            Ok(a) => a,
            Err(e) => return fail(&e),
        };
        let mut text = String::new();
        for a in &accepted {
            text.push_str(&if args.json { json(a) } else { a.id.clone() });
            text.push('\n');
        }
        if out
            .write_all(text.as_bytes())
            .and_then(|()| out.flush())
            .is_err()
        {
            return ExitCode::from(1);
        }
    }
    ExitCode::SUCCESS
}

/// Every opt-out the arguments describe, all checked before any is stored.
fn opt_outs(args: &EnqueueArgs, provider: Provider) -> Result<Vec<OptOut>, outbox::Error> {
    let base =
        |recipient: &str, identifier: Option<&str>, extra: Option<&str>, key: Option<String>| {
            let mut t = args.topics.topics.clone();
            t.extend(extra.filter(|s| !s.is_empty()).map(str::to_string));
            let topic_args = TopicArgs {
                topics: t,
                all_topics: args.topics.all_topics,
            };
            let r = Recipient::for_provider(provider, recipient, identifier)?;
            let mut o = OptOut::default().to(provider, r, topics(&topic_args)?);
            if let (Some(b), Some(why)) = (args.legal_basis, &args.legal_basis_explanation) {
                o = o.legal_basis(b, why.clone());
            }
            if let Some(s) = &args.source {
                o = o.source(s.clone());
            }
            if let Some(k) = key {
                o = o.idempotency_key(k);
            }
            o.plan()?;
            Ok::<_, optout::Error>(o)
        };
    let Some(input) = &args.input else {
        let recipient = args.recipient.as_deref().unwrap_or_default();
        return Ok(vec![base(
            recipient,
            args.identifier.as_deref(),
            None,
            args.idempotency_key.clone(),
        )?]);
    };
    let reader: Box<dyn std::io::Read> = if input == "-" {
        Box::new(std::io::stdin())
    } else {
        Box::new(std::fs::File::open(input).map_err(|e| {
            optout::Error::invalid_input("input", format!("cannot open {input:?}: {e}"))
        })?)
    };
    let mut csv = csv::ReaderBuilder::new().flexible(true).from_reader(reader);
    let bad = |e: csv::Error| optout::Error::invalid_input("input", e.to_string());
    let headers = csv.headers().map_err(bad)?.clone();
    let col = |name: &str| {
        headers
            .iter()
            .position(|h| h.trim().eq_ignore_ascii_case(name))
    };
    let recipient = col("recipient").ok_or_else(|| {
        optout::Error::invalid_input("input", "the CSV header has no `recipient` column")
    })?;
    let (topic, identifier) = (col("topic"), col("identifier"));
    let mut out = Vec::new();
    for (i, row) in csv.records().enumerate() {
        let row = row.map_err(bad)?;
        let line = i + 2;
        let get = |c: Option<usize>| {
            c.and_then(|c| row.get(c))
                .map(str::trim)
                .filter(|s| !s.is_empty())
        };
        let key = args.idempotency_key.as_ref().map(|k| format!("{k}:{line}"));
        let o = base(
            get(Some(recipient)).unwrap_or(""),
            get(identifier),
            get(topic),
            key,
        )
        .map_err(|e| optout::Error::invalid_input("input", format!("line {line}: {e}")))?;
        out.push(o);
    }
    Ok(out)
}
