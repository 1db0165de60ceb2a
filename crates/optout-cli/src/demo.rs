//! `optout demo` and `optout sandbox`: the built-in sandbox, for trying optout with no account.

use std::process::ExitCode;
use std::time::Duration;

use optout::fanout::{FanOut, PersonOptOut, ProviderResult};
use optout::providers::{
    hubspot::HubSpot, migma::Migma, mobivate::Mobivate, novu::Novu, pushy::Pushy,
};
use optout::{Error, LegalBasis, Provider, Recipient, Topics, Unsubscribe, Unsubscriber};
use optout_sandbox::{Api, Faults, Sandbox, Seed};

use crate::{print, SandboxArgs};

/// The sample person of the demo, and what they are subscribed to at each provider.
const EMAIL: &str = "alice@example.com";
const PHONE: &str = "254700000000";
const DEVICE: &str = "a6345d0278adc55d3474f5";
const MIGMA_CONTACT: &str = "contact_alice";
const NOVU_SUBSCRIBER: &str = "user-123";
const HUBSPOT_TOKEN: &str = "demo-token";
const TOPICS: [(Api, &str); 6] = [
    (Api::Migma, "newsletter"),
    (Api::Novu, "product-updates"),
    (Api::Pushy, "news"),
    (Api::Pushy, "media"),
    (Api::Mobivate, "c71e2c2ee68b410a82d6c5f910c2d428"),
    (Api::HubSpot, "12345"),
];

pub async fn demo() -> ExitCode {
    match run_demo().await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(error) => {
            print::error(&error, false);
            crate::exit_code(&error)
        }
    }
}

async fn run_demo() -> Result<bool, Error> {
    // The HubSpot token is configured so that step 3 can show what a wrong one gets.
    let sandbox = Sandbox::builder()
        .key(Api::HubSpot, HUBSPOT_TOKEN)
        .start()
        .await
        .map_err(|e| Error::config(format!("cannot start the sandbox: {e}")))?;
    let base = sandbox.base_url();
    println!("optout demo: a sandbox of all five providers is listening on {base}\n");
    for (api, topic) in TOPICS {
        let recipient = match api {
            Api::Migma => MIGMA_CONTACT,
            Api::Novu => NOVU_SUBSCRIBER,
            Api::Pushy => DEVICE,
            Api::Mobivate => PHONE,
            _ => EMAIL,
        };
        sandbox.subscribe(api, recipient, topic);
    }
    println!("Subscribed {EMAIL} (phone {PHONE}, device {DEVICE}, Migma contact {MIGMA_CONTACT}, Novu subscriber {NOVU_SUBSCRIBER}) everywhere.\n");

    let fanout = clients(&base)?;
    let topics = |api: Api| {
        Topics::Only(
            TOPICS
                .iter()
                .filter(|(a, _)| *a == api)
                .map(|(_, t)| t.to_string())
                .collect(),
        )
    };
    let opt_out = PersonOptOut::default()
        .email(EMAIL)
        .phone(PHONE)
        .device(DEVICE)
        .subscriber(Provider::Migma, MIGMA_CONTACT)
        .subscriber(Provider::Novu, NOVU_SUBSCRIBER)
        .topics(Provider::Migma, topics(Api::Migma))
        .topics(Provider::Novu, topics(Api::Novu))
        .topics(Provider::Pushy, topics(Api::Pushy))
        .topics(Provider::Mobivate, topics(Api::Mobivate))
        .topics(Provider::HubSpot, topics(Api::HubSpot))
        .legal_basis(
            LegalBasis::ConsentWithNotice,
            "Clicked unsubscribe in the optout demo",
        );

    println!("1. Unsubscribe everywhere, in one fan-out call:\n");
    let first = fanout.unsubscribe(&opt_out).await;
    println!("{}\n", table(&first));
    println!("2. The same opt-out again: each provider's answer to a repeat");
    println!("   (Novu and HubSpot say \"already\"; Migma, Pushy and Mobivate have no such answer and simply confirm again):\n");
    let second = fanout.unsubscribe(&opt_out).await;
    println!("{}\n", table(&second));
    let mut ok = first.iter().chain(&second).all(ProviderResult::is_done);

    println!(
        "3. Mistakes, and the one line each gets (what `optout unsubscribe` prints on stderr):\n"
    );
    let wrong_token = HubSpot::builder()
        .access_token("expired-token")
        .base_url(base.clone())
        .max_retries(0)
        .build()?;
    let request = Unsubscribe::new(Recipient::email(EMAIL)?, Topics::one("12345"));
    match wrong_token.unsubscribe(&request).await {
        Err(error) => println!(
            "   a wrong HubSpot token (sent, refused; exit status 1):\n   optout: error: {error}\n"
        ),
        Ok(receipt) => println!("   unexpected: a wrong token was accepted: {receipt}\n"),
    }
    match Recipient::email("alice.example.com") {
        Err(error) => println!(
            "   an email address without @ (refused before sending; exit status 2):\n   optout: error: {error}\n"
        ),
        Ok(recipient) => println!("   unexpected: {recipient} was accepted\n"),
    }

    ok &= outbox_demo(&sandbox, &base).await?;
    let served = sandbox.stats();
    println!(
        "{} requests served over {} connection(s). Everything above ran on 127.0.0.1: point any client at a sandbox with <PROVIDER>_BASE_URL.\n",
        served.total_requests(),
        served.connections
    );
    let _ = sandbox.shutdown().await;
    println!("{NEXT_STEP}");
    Ok(ok)
}

/// What to try after the demo, ready to paste (from a clone, `optout` is
/// `cargo run --release -p optout-cli --`).
const NEXT_STEP: &str = "\
Next: start a sandbox and send one opt-out yourself (from a clone, `optout` is `cargo run --release -p optout-cli --`):
  optout sandbox --addr 127.0.0.1:8025 &
  HUBSPOT_BASE_URL=http://127.0.0.1:8025 HUBSPOT_ACCESS_TOKEN=any optout unsubscribe hubspot --recipient alice@example.com --topic 12345
or with curl, as HubSpot's own API:
  curl -s http://127.0.0.1:8025/communication-preferences/v3/unsubscribe -H 'Authorization: Bearer any' -H 'Content-Type: application/json' -d '{\"emailAddress\":\"bob@example.com\",\"subscriptionId\":\"12345\"}'";

/// Part 3: an opt-out accepted while HubSpot fails, a worker catching up, the receipt.
async fn outbox_demo(sandbox: &Sandbox, base: &str) -> Result<bool, Error> {
    use optout::outbox::{Backoff, OptOut, Outbox, ReceiptQuery, RunSummary, Worker, WorkerConfig};
    let fail = |e: optout::outbox::Error| Error::config(e.to_string());
    let at = |t| humantime::format_rfc3339_seconds(t).to_string();
    let dir = std::env::temp_dir().join(format!("optout-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir)
        .map_err(|e| Error::config(format!("cannot create {}: {e}", dir.display())))?;
    let store = format!("sqlite:{}", dir.join("outbox.db").display());
    let outbox = Outbox::open(&store).await.map_err(fail)?;
    sandbox.set_faults(Faults {
        rate_5xx: 1.0,
        retry_after_secs: 0,
        ..Faults::NONE
    });
    sandbox.subscribe(Api::HubSpot, "bob@example.com", "12345");
    println!("4. The outbox ({store}). HubSpot is down (every request answers 503) when an opt-out arrives:\n");
    let accepted = outbox
        .accept(
            &OptOut::default()
                .email("bob@example.com")
                .topics(Provider::HubSpot, Topics::one("12345"))
                .legal_basis(LegalBasis::ConsentWithNotice, "Replied STOP")
                .source("optout demo"),
        )
        .await
        .map_err(fail)?;
    println!(
        "   accepted {} (committed before this line), HubSpot deadline {}",
        accepted.id,
        at(accepted.deadlines[0].deadline)
    );
    let hubspot: std::sync::Arc<dyn optout::Unsubscriber> = std::sync::Arc::new(
        HubSpot::builder()
            .access_token("demo-token")
            .base_url(base)
            .retry_policy(optout::RetryPolicy::none())
            .build()?,
    );
    let config = WorkerConfig::default()
        .poll(Duration::from_millis(50))
        .backoff(Backoff {
            initial: Duration::from_millis(100),
            max: Duration::from_millis(400),
            max_retry_after: Duration::from_millis(400),
        });
    let worker = Worker::new(outbox.store(), [hubspot], config);
    worker
        .tick(&mut RunSummary::default())
        .await
        .map_err(fail)?;
    if let Some(status) = outbox.status(&accepted.id).await.map_err(fail)? {
        for t in &status.tasks {
            println!(
                "   a worker tried: {} is {} after {} attempt(s): {}",
                t.provider,
                t.state,
                t.attempts,
                t.last_error.as_deref().unwrap_or("-")
            );
        }
    }
    sandbox.set_faults(Faults::NONE);
    println!("   HubSpot is back; the worker catches up:\n");
    let summary = worker.run_until_idle().await.map_err(fail)?;
    let receipts = outbox
        .receipts(&ReceiptQuery::default())
        .await
        .map_err(fail)?;
    let rows: Vec<Vec<String>> = receipts
        .iter()
        .map(|r| {
            vec![
                r.provider.to_string(),
                r.recipient.to_string(),
                r.outcome.to_string(),
                at(r.received_at),
                at(r.completed_at),
                at(r.deadline),
                if r.deadline_met { "met" } else { "LATE" }.to_string(),
                r.attempts.to_string(),
                r.hash[..16].to_string(),
            ]
        })
        .collect();
    println!(
        "{}",
        print::table(
            &[
                "provider",
                "recipient",
                "outcome",
                "received",
                "completed",
                "deadline",
                "met",
                "attempts",
                "hash"
            ],
            &rows
        )
    );
    let verified = outbox.verify().await.map_err(fail)?;
    println!(
        "   receipt chain: {} record(s), {}\n",
        verified.records,
        if verified.first_bad.is_none() {
            "verified"
        } else {
            "BROKEN"
        }
    );
    let _ = std::fs::remove_dir_all(&dir);
    Ok(summary.done == 1 && verified.first_bad.is_none())
}

/// The five clients, pointed at the sandbox, sharing one connection pool.
fn clients(base: &str) -> Result<FanOut, Error> {
    let http = optout::provider_kit::HttpConfig {
        base_url: Some(base.to_string()),
        client: Some(optout_core_client()?),
        ..Default::default()
    };
    Ok(FanOut::new()
        .with(
            Migma::builder()
                .api_key("demo-key")
                .project_id("demo-project")
                .http_config(http.clone())
                .build()?,
        )
        .with(
            Novu::builder()
                .secret_key("demo-key")
                .http_config(http.clone())
                .build()?,
        )
        .with(
            Pushy::builder()
                .api_key("demo-key")
                .http_config(http.clone())
                .build()?,
        )
        .with(
            Mobivate::builder()
                .account_id(optout_sandbox::DEFAULT_MOBIVATE_ACCOUNT_ID)
                .http_config(http.clone())
                .build()?,
        )
        .with(
            HubSpot::builder()
                .access_token(HUBSPOT_TOKEN)
                .http_config(http)
                .build()?,
        ))
}

fn optout_core_client() -> Result<optout::reqwest::Client, Error> {
    optout::reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .build()
        .map_err(|e| Error::config(format!("cannot build the HTTP client: {}", e.without_url())))
}

fn table(results: &[ProviderResult]) -> String {
    let mut rows = Vec::new();
    for r in results {
        let ms = format!("{:.1} ms", r.elapsed.as_secs_f64() * 1000.0);
        for receipt in &r.receipts {
            rows.push(vec![
                r.provider.to_string(),
                receipt.recipient.to_string(),
                receipt.topics.to_string(),
                receipt.outcome.to_string(),
                receipt.reference.clone().unwrap_or_else(|| "-".into()),
                ms.clone(),
            ]);
        }
        for error in &r.errors {
            rows.push(vec![
                r.provider.to_string(),
                "-".into(),
                "-".into(),
                format!("FAILED: {error}"),
                "-".into(),
                ms.clone(),
            ]);
        }
        if let Some(why) = &r.skipped {
            rows.push(vec![
                r.provider.to_string(),
                "-".into(),
                "-".into(),
                format!("skipped: {why}"),
                "-".into(),
                ms.clone(),
            ]);
        }
    }
    print::table(
        &[
            "provider",
            "recipient",
            "topics",
            "outcome",
            "provider reference",
            "time",
        ],
        &rows,
    )
}

pub async fn sandbox(args: SandboxArgs) -> ExitCode {
    match run_sandbox(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("optout: error: {message}");
            ExitCode::from(2)
        }
    }
}

async fn run_sandbox(args: SandboxArgs) -> Result<(), String> {
    let faults = Faults {
        every_nth_429: args.fault_429_every.filter(|n| *n > 0),
        rate_5xx: rate("--fault-5xx-rate", args.fault_5xx_rate)?,
        latency: Duration::from_millis(args.latency_ms),
        rate_malformed: rate("--fault-malformed-rate", args.fault_malformed_rate)?,
        ..Faults::NONE
    };
    let mut builder = Sandbox::builder().addr(args.addr).faults(faults);
    if let Some(path) = &args.seed {
        builder = builder.seed(Seed::from_file(path).map_err(|e| e.to_string())?);
    }
    for pair in &args.keys {
        let (api, key) = pair
            .split_once('=')
            .filter(|(_, k)| !k.is_empty())
            .ok_or_else(|| {
                format!("--key {pair:?}: expected PROVIDER=KEY, e.g. hubspot=my-token")
            })?;
        let api: Api = api.parse().map_err(|e| format!("--key: {e}"))?;
        builder = builder.key(api, key);
    }
    let account_id = args.mobivate_account_id;
    builder = builder.mobivate_account_id(account_id.clone());
    for pair in &args.rate_limits {
        let (api, limit) = pair.split_once('=').ok_or_else(|| {
            format!("--rate-limit {pair:?}: expected PROVIDER=N/PERIOD, e.g. hubspot=190/10s")
        })?;
        let api: Api = api.parse().map_err(|e| format!("--rate-limit: {e}"))?;
        let limit = limit
            .parse()
            .map_err(|e| format!("--rate-limit {pair:?}: {e}"))?;
        builder = builder.rate_limit(api, limit);
    }
    let sandbox = builder
        .start()
        .await
        .map_err(|e| cannot_listen(args.addr, e))?;
    let base = sandbox.base_url();
    println!("optout sandbox listening on {base} (Ctrl-C to stop)");
    println!("Point clients at it, e.g.:");
    for p in Provider::ALL {
        println!("  export {}_BASE_URL={base}", p.env_prefix());
    }
    println!("Mobivate signatures are checked against account id {account_id}:");
    println!("  export MOBIVATE_ACCOUNT_ID={account_id}");
    let _ = tokio::signal::ctrl_c().await;
    let stats = sandbox.stats();
    sandbox.shutdown().await.map_err(|e| e.to_string())?;
    println!(
        "served {} requests over {} connections ({} refused by a --rate-limit with a 429)",
        stats.total_requests(),
        stats.connections,
        stats.rate_limited
    );
    Ok(())
}

/// Why the sandbox did not start, naming the address and, when it is taken, how to pick another.
fn cannot_listen(addr: std::net::SocketAddr, error: optout_sandbox::Error) -> String {
    match &error {
        optout_sandbox::Error::Io(io) if io.kind() == std::io::ErrorKind::AddrInUse => {
            let mut other = addr;
            other.set_port(addr.port().wrapping_add(1).max(1024));
            format!(
                "cannot listen on {addr}: the address is already in use (another sandbox?); \
                 pick another with --addr {other}, or --addr {} for any free port",
                std::net::SocketAddr::new(addr.ip(), 0)
            )
        }
        optout_sandbox::Error::Io(io) => format!("cannot listen on {addr}: {io}"),
        _ => error.to_string(),
    }
}

fn rate(flag: &str, value: f64) -> Result<f64, String> {
    if (0.0..=1.0).contains(&value) {
        Ok(value)
    } else {
        Err(format!("{flag} {value} is not a rate between 0 and 1"))
    }
}
