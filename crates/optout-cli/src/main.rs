//! `optout`: unsubscribe people from Migma, Novu, Pushy, Mobivate and HubSpot from a shell.
//!
//! This file parses arguments and hands each command to its module (`unsubscribe`, `bulk`,
//! `demo`, `serve`, `outbox`), which prints; the work is done by the `optout` library
//! (`optout::from_env`, `optout::bulk`, `optout::fanout`) and `optout-sandbox`.

mod bulk;
mod bulk_guard;
mod demo;
mod dry_run;
mod outbox;
mod print;
mod rates;
mod serve;
mod unsubscribe;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use optout::{Error, LegalBasis, Overrides, Provider, RateLimit, Topics};

/// mimalloc rather than the system allocator: a bulk run allocates a few small values per row
/// across threads (reader, senders, journal), where glibc's malloc was about a tenth of the
/// process's instructions (callgrind, `cargo xtask bench`). Instructions per row, HubSpot at
/// concurrency 32: 82,400 -> 72,800; Novu: 14,100 -> 11,600.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const EXAMPLES: &str = "\
Examples (credentials come from the environment; see --help of each command):
  HUBSPOT_ACCESS_TOKEN=... optout unsubscribe hubspot --recipient alice@example.com --topic 12345 \\
      --legal-basis consent-with-notice --legal-basis-explanation 'Clicked unsubscribe'
  HUBSPOT_ACCESS_TOKEN=... optout unsubscribe hubspot --recipient alice@example.com --all-topics
  MIGMA_API_KEY=... MIGMA_PROJECT_ID=proj_1 optout unsubscribe migma --recipient contact_42 --topic newsletter
  NOVU_SECRET_KEY=... optout unsubscribe novu --recipient user-123 --topic product-updates
  PUSHY_SECRET_API_KEY=... optout unsubscribe pushy --recipient a6345d0278adc55d3474f5 --topic news --topic media
  MOBIVATE_ACCOUNT_ID=... optout unsubscribe mobivate --recipient 254700000000 --topic c71e2c2ee68b410a82d6c5f910c2d428
  optout bulk hubspot --input optouts.csv --topic 12345 --journal optouts.journal
  optout bulk hubspot --input optouts.csv --topic 12345 --dry-run   # print the requests, send nothing
  optout sandbox --addr 127.0.0.1:8025      # then: HUBSPOT_BASE_URL=http://127.0.0.1:8025 ...
  optout demo

Exit status: 0 done (unsubscribed or already), 1 the provider or the network failed,
2 invalid input, usage or configuration (nothing was sent).";

const SANDBOX_EXAMPLES: &str = "\
Examples (any non-empty key is accepted unless --key is given; Mobivate requests must be signed
with the sandbox's account id, 43e36f54eef111e270639871000000f1 unless --mobivate-account-id):
  optout sandbox --addr 127.0.0.1:8025 &
  HUBSPOT_BASE_URL=http://127.0.0.1:8025 HUBSPOT_ACCESS_TOKEN=any optout unsubscribe hubspot --recipient alice@example.com --topic 12345
  MOBIVATE_BASE_URL=http://127.0.0.1:8025 MOBIVATE_ACCOUNT_ID=43e36f54eef111e270639871000000f1 optout unsubscribe mobivate --recipient 254700000000 --topic c71e2c2ee68b410a82d6c5f910c2d428
  optout sandbox --addr 127.0.0.1:0        # any free port; the banner says which";

/// Honour an opt-out everywhere it has to be honoured.
#[derive(Debug, Parser)]
// term_width = 0: never wrap help text (it applies to every subcommand); a wrapped example
// cannot be pasted.
#[command(name = "optout", version, after_help = EXAMPLES, term_width = 0)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Unsubscribe one person at one provider.
    #[command(after_help = EXAMPLES)]
    Unsubscribe(UnsubscribeArgs),
    /// Unsubscribe every row of a CSV file (`recipient`, optional `topic` and `identifier`).
    #[command(
        after_help = "Example:\n  printf 'recipient,topic\\nalice@example.com,12345\\n' | \\\n    HUBSPOT_ACCESS_TOKEN=... optout bulk hubspot --input - --journal run.journal"
    )]
    Bulk(BulkArgs),
    /// Run a local emulator of all five providers' APIs (127.0.0.1 only) until Ctrl-C.
    #[command(after_help = SANDBOX_EXAMPLES)]
    Sandbox(SandboxArgs),
    /// Show optout working end to end against a built-in sandbox; needs no account.
    Demo,
    /// Print a one-click unsubscribe link and the two mail headers (keys: OPTOUT_LINK_KEYS).
    Link(serve::LinkArgs),
    /// Take opt-outs over HTTP (one-click links, JSON API) into the outbox, and send them.
    Serve(serve::ServeArgs),
    /// Accept opt-outs durably into the outbox (a worker sends them); prints each id.
    Enqueue(outbox::EnqueueArgs),
    /// Send what the outbox holds, retrying until every provider confirms.
    Worker(outbox::WorkerArgs),
    /// Outbox task counts by provider and state (pending, in flight, done, needs attention, overdue).
    Status(outbox::StatusArgs),
    /// List, export or verify the outbox's hash-chained receipts.
    Receipts(outbox::ReceiptsArgs),
}

/// The provider to talk to; its name is taken in any case (`hubspot`, `HubSpot`).
#[derive(Debug, Clone, Copy)]
enum ProviderArg {
    Migma,
    Novu,
    Pushy,
    Mobivate,
    Hubspot,
}

/// Every argument of type `ProviderArg` parses its name case-insensitively, as `--key
/// HubSpot=...` and `Provider::from_str` do: the listed values stay lower-case.
impl clap::builder::ValueParserFactory for ProviderArg {
    type Parser = ProviderParser;
    fn value_parser() -> ProviderParser {
        ProviderParser
    }
}

#[derive(Debug, Clone, Copy)]
struct ProviderParser;

impl clap::builder::TypedValueParser for ProviderParser {
    type Value = ProviderArg;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<ProviderArg, clap::Error> {
        let names = Provider::ALL.map(Provider::as_str);
        let exact = clap::builder::PossibleValuesParser::new(names);
        let name = match value.to_str().map(str::to_ascii_lowercase) {
            Some(lower) => exact
                .parse_ref(cmd, arg, std::ffi::OsStr::new(&lower))
                // The error names what was typed, not its lower-case form.
                .or_else(|_| exact.parse_ref(cmd, arg, value))?,
            None => exact.parse_ref(cmd, arg, value)?,
        };
        let invalid = || clap::Error::new(clap::error::ErrorKind::InvalidValue).with_cmd(cmd);
        Ok(match name.parse::<Provider>().map_err(|_| invalid())? {
            Provider::Migma => ProviderArg::Migma,
            Provider::Novu => ProviderArg::Novu,
            Provider::Pushy => ProviderArg::Pushy,
            Provider::Mobivate => ProviderArg::Mobivate,
            Provider::HubSpot => ProviderArg::Hubspot,
            _ => return Err(invalid()),
        })
    }

    fn possible_values(
        &self,
    ) -> Option<Box<dyn Iterator<Item = clap::builder::PossibleValue> + '_>> {
        Some(Box::new(
            Provider::ALL
                .into_iter()
                .map(|p| clap::builder::PossibleValue::new(p.as_str())),
        ))
    }
}

impl From<ProviderArg> for Provider {
    fn from(p: ProviderArg) -> Provider {
        match p {
            ProviderArg::Migma => Provider::Migma,
            ProviderArg::Novu => Provider::Novu,
            ProviderArg::Pushy => Provider::Pushy,
            ProviderArg::Mobivate => Provider::Mobivate,
            ProviderArg::Hubspot => Provider::HubSpot,
        }
    }
}

#[derive(Debug, Args)]
struct Connection {
    /// Send to this base URL instead of the provider's (wins over <PROVIDER>_BASE_URL).
    #[arg(long, value_name = "URL")]
    base_url: Option<String>,
    /// Time allowed for one attempt: seconds (30) or a duration (500ms, 5s, 2m); more than 0,
    /// at most 1h [default: 30s].
    #[arg(long, value_name = "SECS", value_parser = parse_timeout)]
    timeout: Option<Duration>,
    /// Retries after a retryable failure (429, 5xx, timeouts, an unreadable 2xx) [default: 3].
    #[arg(long, value_name = "N")]
    retries: Option<u32>,
}

impl Connection {
    fn overrides(&self) -> Overrides {
        let mut overrides = Overrides::new();
        overrides.base_url = self.base_url.clone();
        overrides.timeout = self.timeout;
        overrides.retries = self.retries;
        overrides
    }
}

#[derive(Debug, Args)]
struct TopicArgs {
    /// A topic, subscription or campaign id (repeatable).
    #[arg(long = "topic", value_name = "ID")]
    topics: Vec<String>,
    /// Every topic (Pushy and HubSpot only).
    #[arg(long, conflicts_with = "topics")]
    all_topics: bool,
}

#[derive(Debug, Args)]
struct UnsubscribeArgs {
    /// migma | novu | pushy | mobivate | hubspot
    provider: ProviderArg,
    /// Email (hubspot), phone (mobivate), device token (pushy), subscriber id (novu), contact id (migma).
    #[arg(long, value_name = "VALUE")]
    recipient: String,
    #[command(flatten)]
    topics: TopicArgs,
    /// Novu subscription identifier, to remove one subscription only.
    #[arg(long, value_name = "ID")]
    identifier: Option<String>,
    /// Legal basis recorded by HubSpot, e.g. consent-with-notice, legitimate-interest-client, non-gdpr.
    #[arg(long, value_name = "BASIS", value_parser = parse_legal_basis, requires = "legal_basis_explanation")]
    legal_basis: Option<LegalBasis>,
    /// The explanation that goes with --legal-basis.
    #[arg(long, value_name = "TEXT", requires = "legal_basis")]
    legal_basis_explanation: Option<String>,
    /// Makes a retried request safe to repeat (Novu).
    #[arg(long, value_name = "KEY")]
    idempotency_key: Option<String>,
    #[command(flatten)]
    connection: Connection,
    /// Print the receipt or the error as JSON on stdout.
    #[arg(long)]
    json: bool,
    /// Print the requests that would be sent (secrets redacted), one per line, and send
    /// nothing. With --json, the plan as JSON.
    #[arg(long)]
    dry_run: bool,
}

#[derive(Debug, Args)]
struct BulkArgs {
    /// migma | novu | pushy | mobivate | hubspot
    provider: ProviderArg,
    /// The CSV file, or - for standard input.
    #[arg(long, value_name = "FILE")]
    input: String,
    #[command(flatten)]
    topics: TopicArgs,
    /// Requests (or batches) in flight at once.
    #[arg(long, value_name = "N", default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=1024))]
    concurrency: u32,
    /// At most N requests per PERIOD to the provider (e.g. 190/10s, 800/min), shared by every
    /// request of the run [default: the provider's published limit against its own API].
    #[arg(long, value_name = "N/PERIOD", value_parser = parse_rate)]
    rate: Option<RateLimit>,
    /// Append every finished row here; a rerun skips the rows it records as done.
    #[arg(long, value_name = "FILE")]
    journal: Option<PathBuf>,
    /// Legal basis recorded by HubSpot for every row.
    #[arg(long, value_name = "BASIS", value_parser = parse_legal_basis, requires = "legal_basis_explanation")]
    legal_basis: Option<LegalBasis>,
    /// The explanation that goes with --legal-basis.
    #[arg(long, value_name = "TEXT", requires = "legal_basis")]
    legal_basis_explanation: Option<String>,
    #[command(flatten)]
    connection: Connection,
    /// Print the summary as JSON on stdout.
    #[arg(long)]
    json: bool,
    /// Print the requests the run would send, batch by batch (secrets redacted), and send
    /// nothing; the journal is neither read nor written. With --json, one JSON object per
    /// request and the summary.
    #[arg(long)]
    dry_run: bool,
}

#[derive(Debug, Args)]
struct SandboxArgs {
    /// Where to listen (loopback only).
    #[arg(long, default_value = "127.0.0.1:8025")]
    addr: std::net::SocketAddr,
    /// A JSON seed that closes the world: only what it lists exists.
    #[arg(long, value_name = "FILE")]
    seed: Option<PathBuf>,
    /// Accept only this key for a provider, as provider=KEY (repeatable).
    #[arg(long = "key", value_name = "PROVIDER=KEY")]
    keys: Vec<String>,
    /// The account id Mobivate signatures are checked against: clients need the same
    /// MOBIVATE_ACCOUNT_ID.
    #[arg(long, value_name = "ID", default_value = optout_sandbox::DEFAULT_MOBIVATE_ACCOUNT_ID)]
    mobivate_account_id: String,
    /// Answer every Nth request with 429 and Retry-After.
    #[arg(long, value_name = "N")]
    fault_429_every: Option<u64>,
    /// Answer this fraction of requests (0 to 1) with 503.
    #[arg(long, value_name = "RATE", default_value_t = 0.0)]
    fault_5xx_rate: f64,
    /// Add this much latency to every answer.
    #[arg(long, value_name = "MS", default_value_t = 0)]
    latency_ms: u64,
    /// Answer this fraction of requests (0 to 1) with a malformed body.
    #[arg(long, value_name = "RATE", default_value_t = 0.0)]
    fault_malformed_rate: f64,
    /// Enforce a provider's rate limit, as PROVIDER=N/PERIOD (e.g. hubspot=190/10s, a rolling
    /// window), answering the requests over it with the provider's own 429 (repeatable).
    #[arg(long = "rate-limit", value_name = "PROVIDER=N/PERIOD")]
    rate_limits: Vec<String>,
}

/// `--timeout`: a number of seconds (`30`, `2.5`) or a humantime duration (`500ms`, `5s`,
/// `2m`), more than zero and at most an hour.
fn parse_timeout(s: &str) -> Result<Duration, String> {
    const MAX: Duration = Duration::from_secs(3600);
    let text = s.trim();
    let parsed = match text.parse::<f64>() {
        Ok(secs) if secs.is_finite() && secs >= 0.0 && secs <= MAX.as_secs_f64() => {
            Some(Duration::from_secs_f64(secs))
        }
        Ok(_) => None,
        Err(_) => humantime::parse_duration(text).ok(),
    };
    match parsed {
        Some(d) if !d.is_zero() && d <= MAX => Ok(d),
        _ => Err(format!(
            "{s:?} is not a timeout optout can use: give seconds (30, 2.5) or a duration \
             (500ms, 5s, 2m), more than 0 and at most 1h"
        )),
    }
}

fn parse_rate(s: &str) -> Result<RateLimit, String> {
    s.parse::<RateLimit>().map_err(|e| {
        e.message()
            .unwrap_or("expected N/PERIOD, e.g. 190/10s")
            .to_string()
    })
}

fn parse_legal_basis(s: &str) -> Result<LegalBasis, String> {
    s.parse::<LegalBasis>()
        .map_err(|e| e.message().unwrap_or("unknown legal basis").to_string())
}

/// 0 done, 1 the provider or network failed, 2 nothing was sent (input, usage, configuration).
fn exit_code(error: &Error) -> ExitCode {
    if error.was_sent() {
        ExitCode::from(1)
    } else {
        ExitCode::from(2)
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    // Without RUST_LOG, only the warning that a shared rate limit cannot be reached.
    let filter = match std::env::var_os("RUST_LOG") {
        Some(_) => tracing_subscriber::EnvFilter::from_default_env(),
        None => tracing_subscriber::EnvFilter::new("optout::rate=warn"),
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    match cli.command {
        Command::Unsubscribe(args) => unsubscribe::unsubscribe(args).await,
        Command::Bulk(args) => bulk::bulk(args).await,
        Command::Sandbox(args) => demo::sandbox(args).await,
        Command::Demo => demo::demo().await,
        Command::Link(args) => serve::link(args),
        Command::Serve(args) => serve::serve(args).await,
        Command::Enqueue(args) => outbox::enqueue(args).await,
        Command::Worker(args) => outbox::worker(args).await,
        Command::Status(args) => outbox::status(args).await,
        Command::Receipts(args) => outbox::receipts(args).await,
    }
}

fn topics(args: &TopicArgs) -> Result<Topics, Error> {
    if args.all_topics {
        Ok(Topics::All)
    } else if args.topics.is_empty() {
        Err(Error::invalid_input(
            "topic",
            "no topic given; use --topic ID (repeatable) or --all-topics",
        ))
    } else {
        Ok(Topics::Only(args.topics.clone()))
    }
}
