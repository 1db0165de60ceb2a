//! `optout link` and `optout serve`: arguments only; the work is in `optout-serve`.

use std::process::ExitCode;

use clap::Args;
use optout::{Error, Provider, Recipient};
use optout_serve::link::{LinkKeys, Scope};

use crate::{print, rates, topics, ProviderArg, TopicArgs};

const LINK_EXAMPLES: &str = "\
Examples (OPTOUT_LINK_KEYS=ID:SECRET,...: the first key signs, every key verifies; secrets of 32+ bytes):
  export OPTOUT_LINK_KEYS=\"k1:$(openssl rand -hex 32)\"
  optout link hubspot --recipient alice@example.com --topic 12345 --base https://unsub.example.com
  optout link pushy --recipient a6345d0278adc55d3474f5 --all-topics --base https://unsub.example.com --json

Put both header lines in the mail, and have its DKIM signature cover both.";

const SERVE_EXAMPLES: &str = "\
Examples (link keys, API tokens and provider credentials come from the environment):
  OPTOUT_LINK_KEYS=k1:... OPTOUT_API_TOKENS=... HUBSPOT_ACCESS_TOKEN=... optout serve --store sqlite:optout.db --workers 4
  optout serve --store postgres://optout@db/optout --no-workers --addr 127.0.0.1:8080

Routes: POST|GET /u/TOKEN (one-click), POST /v1/opt-outs, GET /v1/opt-outs/ID, /healthz, /readyz, /metrics.
Plain HTTP: terminate TLS in a reverse proxy. Ctrl-C or SIGTERM: finish what is in flight, exit 0.";

#[derive(Debug, Args)]
#[command(after_help = LINK_EXAMPLES)]
pub struct LinkArgs {
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
    /// Where `optout serve` is reached from outside, e.g. https://unsub.example.com.
    #[arg(long, value_name = "URL")]
    base: String,
    /// Print {"url", "headers": {...}} as JSON.
    #[arg(long)]
    json: bool,
}

pub fn link(args: LinkArgs) -> ExitCode {
    match make_link(&args) {
        Ok(link) => {
            if args.json {
                println!("{}", serde_json::to_string(&link).unwrap_or_default());
            } else {
                println!("{}", link.url);
                for (name, value) in link.headers() {
                    println!("{name}: {value}");
                }
            }
            ExitCode::SUCCESS
        }
        Err(error) => {
            print::error(&error, args.json);
            ExitCode::from(2)
        }
    }
}

fn make_link(args: &LinkArgs) -> Result<optout_serve::Link, Error> {
    let provider = Provider::from(args.provider);
    let recipient = Recipient::for_provider(provider, &args.recipient, args.identifier.as_deref())?;
    let scope = Scope::new(provider, recipient, topics(&args.topics)?)?;
    LinkKeys::from_env()?.link(&args.base, &scope)
}

#[derive(Debug, Args)]
#[command(after_help = SERVE_EXAMPLES)]
pub struct ServeArgs {
    /// The outbox: sqlite:PATH or postgres://user:password@host:port/db.
    #[arg(long, value_name = "URL", env = "OPTOUT_STORE", default_value = optout_serve::outbox::DEFAULT_STORE, hide_env_values = true)]
    store: String,
    /// Where to listen (plain HTTP: put a TLS reverse proxy in front).
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: std::net::SocketAddr,
    /// Send what is due with this many requests in flight, in this process.
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=1024))]
    workers: u32,
    /// Only take opt-outs in; `optout worker` sends them (from any machine sharing the store).
    #[arg(long, conflicts_with_all = ["workers", "rates"])]
    no_workers: bool,
    /// Group commit: opt-outs arriving together are committed in one transaction, this many
    /// at most (each answered only once committed); 1: one transaction per opt-out.
    #[arg(long, value_name = "N", default_value_t = optout_serve::outbox::GroupCommit::DEFAULT_MAX_BATCH as u32, value_parser = clap::value_parser!(u32).range(1..=4096))]
    max_batch: u32,
    #[arg(long = "rate", value_name = "N/PERIOD", value_parser = rates::parse, help = rates::HELP)]
    rates: Vec<rates::RateArg>,
}

pub async fn serve(args: ServeArgs) -> ExitCode {
    match run_serve(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err((error, code)) => {
            eprintln!("optout: error: {error}");
            ExitCode::from(code)
        }
    }
}

async fn run_serve(args: ServeArgs) -> Result<(), (String, u8)> {
    use std::sync::Arc;

    use optout_serve::outbox::{Outbox, OutboxIntake, Worker, WorkerConfig};
    use optout_serve::{server, ApiTokens, Config, Intake, Metrics, Timed};

    let config_error = |e: Error| (e.to_string(), 2);
    let keys = LinkKeys::from_env().map_err(config_error)?;
    let tokens = ApiTokens::from_env().map_err(config_error)?;
    if tokens.is_empty() {
        eprintln!("optout: OPTOUT_API_TOKENS is not set: /v1/opt-outs answers 401 to everyone");
    }
    let outbox = Outbox::open(&args.store)
        .await
        .map_err(|e| {
            let code = if matches!(e, optout_serve::outbox::OutboxError::Url(_)) {
                2
            } else {
                1
            };
            (e.to_string(), code)
        })?
        .group_commit(args.max_batch as usize);
    let metrics = Arc::new(Metrics::new());
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let worker = if args.no_workers {
        None
    } else {
        let mut clients = Vec::new();
        let rates = rates::Rates::new(&args.rates);
        // A PostgreSQL store shares every limit with the other workers of the store.
        let share = outbox.rate_share();
        for provider in Provider::ALL {
            let overrides = rates.apply(provider, &optout::Overrides::new(), share.as_ref());
            match optout::from_env(provider, &overrides) {
                Ok(client) => clients.push(Timed::wrap(client, metrics.clone())),
                Err(e) => eprintln!("optout: {provider}: not sending ({e}); its opt-outs wait for a worker that can"),
            }
        }
        let config = WorkerConfig::default().concurrency(args.workers as usize);
        let worker = Worker::new(outbox.store(), clients, config);
        let mut stopped = stopped.clone();
        Some(tokio::spawn(async move {
            let result = worker
                .run(async move {
                    let _ = stopped.wait_for(|s| *s).await;
                })
                .await;
            if let Err(e) = &result {
                // Say so now, not at exit: opt-outs are still taken in (and kept), but nothing
                // is sent until a worker runs again.
                eprintln!(
                    "optout: error: the worker stopped: {e}; opt-outs are still accepted and wait"
                );
            }
            result
        }))
    };
    let listener = tokio::net::TcpListener::bind(args.addr)
        .await
        .map_err(|e| (format!("cannot listen on {}: {e}", args.addr), 2))?;
    let addr = listener.local_addr().map_err(|e| (e.to_string(), 1))?;
    eprintln!(
        "optout: serving on http://{addr} (store {})",
        optout_serve::outbox::redact(&args.store)
    );
    let config = Config::new(tokens, keys);
    let (header_timeout, grace) = (config.header_timeout, config.shutdown_grace);
    let intake: Arc<dyn Intake> = Arc::new(OutboxIntake::new(outbox));
    let router = server::router(intake, config, metrics);
    tokio::spawn(async move {
        server::shutdown_signal().await;
        let _ = stop.send(true);
    });
    let mut server_stopped = stopped.clone();
    let shutdown = async move {
        let _ = server_stopped.wait_for(|s| *s).await;
    };
    server::serve(listener, router, header_timeout, grace, shutdown)
        .await
        .map_err(|e| (e.to_string(), 1))?;
    if let Some(worker) = worker {
        match worker.await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => return Err((format!("worker: {e}"), 1)),
            Err(e) => return Err((format!("worker: {e}"), 1)),
        }
    }
    eprintln!("optout: stopped");
    Ok(())
}
