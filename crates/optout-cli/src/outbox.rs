//! `optout enqueue`, `optout worker`, `optout status`, `optout receipts`: the durable outbox
//! (ARCHITECTURE.md §8) from a shell. Argument structs and printing; the work is done by
//! `optout::outbox`.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, ValueEnum};
use optout::outbox::{self, OptOut, Outbox, ReceiptQuery, ReceiptRecord, StatusCounts, Worker};
use optout::{LegalBasis, Overrides, Provider, Recipient, Unsubscriber};

use crate::{parse_legal_basis, parse_timeout, rates, topics, ProviderArg, TopicArgs};

/// Where the outbox lives.
#[derive(Debug, Args)]
pub struct StoreArg {
    /// sqlite:PATH or postgres://user:password@host:port/db (the password is never printed).
    #[arg(long = "store", env = "OPTOUT_STORE", value_name = "URL", default_value = outbox::DEFAULT_STORE, hide_env_values = true)]
    store: String,
}

impl StoreArg {
    async fn open(&self) -> Result<Outbox, outbox::Error> {
        Outbox::open(&self.store).await
    }
}

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

#[derive(Debug, Args)]
pub struct WorkerArgs {
    #[command(flatten)]
    store: StoreArg,
    /// Provider calls in flight at once.
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=256))]
    concurrency: u32,
    /// Exit once nothing is pending or waiting for a retry: 0, or 1 if a task needs attention.
    #[arg(long)]
    until_idle: bool,
    /// Send to this base URL instead of the providers' (wins over <PROVIDER>_BASE_URL).
    #[arg(long, value_name = "URL")]
    base_url: Option<String>,
    /// Seconds allowed for one attempt [default: 30].
    #[arg(long, value_name = "SECS", value_parser = parse_timeout)]
    timeout: Option<Duration>,
    #[arg(long = "rate", value_name = "N/PERIOD", value_parser = rates::parse, help = rates::HELP)]
    rates: Vec<rates::RateArg>,
    /// The lease on a claimed task, renewed while it is in flight (tests shorten it).
    #[arg(long, value_name = "SECS", value_parser = parse_timeout, default_value = "30", hide = true)]
    lease: Duration,
}

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

fn fail(e: &outbox::Error) -> ExitCode {
    eprintln!("optout: error: {e}");
    match e {
        outbox::Error::Invalid(_) | outbox::Error::Url(_) => ExitCode::from(2),
        _ => ExitCode::from(1),
    }
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

/// `optout worker`.
pub async fn worker(args: WorkerArgs) -> ExitCode {
    let mut overrides = Overrides::new();
    overrides.base_url = args.base_url.clone();
    overrides.timeout = args.timeout;
    // The outbox schedules retries itself, in the store, so they survive a restart.
    overrides.retries = Some(0);
    let rates = rates::Rates::new(&args.rates);
    let clients = |share: Option<&std::sync::Arc<dyn optout::RateShare>>, say: bool| {
        let mut clients: Vec<std::sync::Arc<dyn Unsubscriber>> = Vec::new();
        for p in Provider::ALL {
            match optout::from_env(p, &rates.apply(p, &overrides, share)) {
                Ok(c) => clients.push(c),
                Err(e) if say => eprintln!("optout: worker: {p} not served ({e}); its tasks wait"),
                Err(_) => {}
            }
        }
        clients
    };
    let mut served = clients(None, true);
    if served.is_empty() {
        eprintln!(
            "optout: error: no provider has credentials in the environment; nothing can be sent"
        );
        return ExitCode::from(2);
    }
    let outbox = match args.store.open().await {
        Ok(o) => o,
        Err(e) => return fail(&e),
    };
    // A PostgreSQL store shares every limit with the other workers of the store.
    if let Some(share) = outbox.rate_share() {
        served = clients(Some(&share), false);
    }
    let config = outbox::WorkerConfig::default()
        .concurrency(args.concurrency as usize)
        .lease(args.lease)
        .notify(|line| eprintln!("optout: worker: {line}"));
    let worker = Worker::new(outbox.store(), served, config);
    let run = if args.until_idle {
        worker.run_until_idle_or(shutdown_signal()).await
    } else {
        worker.run(shutdown_signal()).await
    };
    match run {
        Ok(s) => {
            eprintln!(
                "optout: worker: {} sent, {} retried, {} parked; {} need attention{}",
                s.done,
                s.retried,
                s.parked,
                s.needs_attention,
                if s.unserved > 0 {
                    format!(", {} wait for a provider without credentials", s.unserved)
                } else {
                    String::new()
                }
            );
            if args.until_idle && (s.needs_attention > 0 || s.unserved > 0) {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(e) => fail(&e),
    }
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
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

fn json<T: serde::Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string(value)
        .unwrap_or_else(|e| format!("{{\"error\":\"cannot encode JSON: {e}\"}}"))
}
