//! `optout worker`: sends what the outbox holds until stopped (or idle).

use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use optout::outbox::{self, Worker};
use optout::{Overrides, Provider, Unsubscriber};

use super::{fail, StoreArg};
use crate::{parse_timeout, rates};

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
