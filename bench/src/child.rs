//! The children: each measures one client (or loads a server) and prints one JSON line.

use super::*;
use optout::bulk::Histogram;

pub fn main(args: &[String]) -> Result<(), BoxError> {
    let arg = |i: usize| {
        args.get(i)
            .cloned()
            .ok_or_else(|| BoxError::from("child: missing argument"))
    };
    let (kind, prov, base, conc) = (arg(0)?, Prov::parse(&arg(1)?)?, arg(2)?, arg(3)?);
    let concurrency: usize = conc.parse()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let v = rt.block_on(async {
        match kind.as_str() {
            "lib" => lib(prov, &base, concurrency, &arg(4)?).await,
            "floor" => floor(prov, &base, concurrency, arg(4)?.parse()?, Floor::Plain).await,
            "floor-read" => floor(prov, &base, concurrency, arg(4)?.parse()?, Floor::Read).await,
            "floor-1row" => floor(prov, &base, concurrency, arg(4)?.parse()?, Floor::OneRow).await,
            "load" => load(prov, &base, concurrency, arg(4)?.parse()?).await,
            other => Err(format!("unknown child {other:?}").into()),
        }
    })?;
    println!("{v}");
    Ok(())
}

fn with_stats(
    mut v: Value,
    latency: &optout::bulk::Latency,
    started: Instant,
    requests: u64,
    concurrency: usize,
) -> Value {
    let secs = started.elapsed().as_secs_f64();
    if let Value::Object(m) = &mut v {
        m.insert("secs".into(), json!(secs));
        m.insert("p50_us".into(), json!(latency.p50_us));
        m.insert("p99_us".into(), json!(latency.p99_us));
        m.insert(
            "mean_us".into(),
            json!(secs * 1e6 * concurrency as f64 / requests.max(1) as f64),
        );
        m.insert("vm_hwm_kib".into(), json!(vm_hwm_kib("self")));
    }
    v
}

async fn lib(prov: Prov, base: &str, concurrency: usize, csv: &str) -> Result<Value, BoxError> {
    // The bulk path times every call to the provider: one v4 batch write of up to 100 rows
    // for HubSpot, one DELETE of up to 100 for Novu, so its p50/p99 compare with the floor's.
    let client: Arc<dyn optout::Unsubscriber> = match prov {
        Prov::HubSpot => Arc::new(
            optout::providers::hubspot::HubSpot::builder()
                .access_token(HUBSPOT_TOKEN)
                .base_url(base)
                .build()?,
        ),
        Prov::Novu => Arc::new(
            optout::providers::novu::Novu::builder()
                .secret_key(NOVU_KEY)
                .base_url(base)
                .build()?,
        ),
    };
    let input = BufReader::with_capacity(1 << 16, std::fs::File::open(csv)?);
    let job = optout::bulk::BulkJob::new()
        .topic(prov.topic())
        .concurrency(concurrency);
    let mut first_error = None;
    let started = Instant::now();
    let summary = optout::bulk::run(client, input, &job, |row| {
        if let optout::bulk::RowResult::Failed(e) = &row.result {
            if first_error.is_none() {
                first_error = Some(format!("line {}: {e}", row.line));
            }
        }
    })
    .await?;
    if let Some(e) = &first_error {
        eprintln!("first failure: {e}");
    }
    let v = json!({
        "rows": summary.rows, "ok": summary.unsubscribed + summary.already,
        "failed": summary.failed, "first_error": first_error,
    });
    let requests = summary.rows.div_ceil(prov.batch());
    Ok(with_stats(
        v,
        &summary.latency,
        started,
        requests,
        concurrency,
    ))
}

/// Novu's answer to a DELETE of subscriptions, as a plain client confirming each row decodes
/// it with serde: each item's id, topic and subscriber, and each error's subscriber and code.
#[derive(serde::Deserialize)]
struct NovuAnswer {
    #[serde(default)]
    data: Vec<NovuItem>,
    #[serde(default)]
    errors: Vec<NovuError>,
}

#[derive(serde::Deserialize)]
struct NovuItem {
    #[serde(rename = "_id")]
    id: String,
    topic: NovuTopic,
    subscriber: NovuSubscriber,
}

#[derive(serde::Deserialize)]
struct NovuTopic {
    key: String,
}

#[derive(serde::Deserialize)]
struct NovuSubscriber {
    #[serde(rename = "subscriberId")]
    subscriber_id: String,
}

#[derive(serde::Deserialize)]
struct NovuError {
    #[serde(rename = "subscriberId")]
    subscriber_id: String,
    code: String,
}

/// How many of the rows `first..last` Novu's answer `body` confirms: each row is done when
/// an item with an id names its subscriber on the topic, and not done when an error names it
/// (or nothing does). What a plain loop must do to confirm each opt-out.
fn novu_confirmed(prov: Prov, body: &[u8], first: u64, last: u64) -> u64 {
    let Ok(answer) = serde_json::from_slice::<NovuAnswer>(body) else {
        return 0;
    };
    let done: std::collections::HashSet<&str> = answer
        .data
        .iter()
        .filter(|d| !d.id.is_empty() && d.topic.key == NOVU_TOPIC)
        .map(|d| d.subscriber.subscriber_id.as_str())
        .collect();
    let failed: std::collections::HashSet<&str> = answer
        .errors
        .iter()
        .filter(|e| !e.code.is_empty())
        .map(|e| e.subscriber_id.as_str())
        .collect();
    (first..last)
        .filter(|i| {
            let id = prov.recipient(*i);
            done.contains(id.as_str()) && !failed.contains(id.as_str())
        })
        .count() as u64
}

/// Which plain loop a floor child runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Floor {
    /// The library's requests, the whole answer read, nothing decoded.
    Plain,
    /// The same, and the answer decoded and each row confirmed from it.
    Read,
    /// HubSpot only, for reference: one v3 call per row, as before its batch writes.
    OneRow,
}

/// The body of a HubSpot v4 batch write of rows `first..last`, as `optout-hubspot` sends it.
pub(crate) fn hubspot_batch((first, last): (u64, u64)) -> String {
    hubspot_batch_of((first..last).map(|i| Prov::HubSpot.recipient(i)))
}

/// The body of a HubSpot v4 batch write of `emails`, as `optout-hubspot` sends it.
pub(crate) fn hubspot_batch_of<S: AsRef<str>>(emails: impl IntoIterator<Item = S>) -> String {
    let inputs: Vec<String> = emails
        .into_iter()
        .map(|email| {
            format!(
                r#"{{"subscriberIdString":"{}","channel":"EMAIL","statusState":"UNSUBSCRIBED","subscriptionId":{HUBSPOT_TOPIC}}}"#,
                email.as_ref()
            )
        })
        .collect();
    format!(r#"{{"inputs":[{}]}}"#, inputs.join(","))
}

/// HubSpot's one-row v3 call for row `n` (the `floor-1row` client's).
fn hubspot_one_row(n: u64) -> (String, String) {
    (
        HUBSPOT_PATH.to_string(),
        format!(
            r#"{{"emailAddress":"{}","subscriptionId":"{HUBSPOT_TOPIC}"}}"#,
            Prov::HubSpot.recipient(n)
        ),
    )
}

/// HubSpot's answer to a batch write, as a plain client confirming each row decodes it: each
/// result's address, subscription and status, and each error's context.
#[derive(serde::Deserialize)]
pub(crate) struct HubSpotAnswer {
    #[serde(default)]
    results: Vec<HubSpotStatus>,
    #[serde(default)]
    errors: Vec<HubSpotError>,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct HubSpotStatus {
    subscriber_id_string: String,
    subscription_id: u64,
    status: String,
}

#[derive(serde::Deserialize)]
struct HubSpotError {
    #[serde(default)]
    context: Value,
}

impl HubSpotAnswer {
    /// The answer in `body`, or `None` when it does not decode (then it confirms nothing).
    pub(crate) fn decode(body: &[u8]) -> Option<HubSpotAnswer> {
        serde_json::from_slice(body).ok()
    }

    /// What it confirms: the addresses with a result `UNSUBSCRIBED` for the topic, less any
    /// address an error names.
    pub(crate) fn confirmed(&self) -> HubSpotConfirmed<'_> {
        let topic: u64 = HUBSPOT_TOPIC.parse().unwrap_or(0);
        HubSpotConfirmed {
            done: self
                .results
                .iter()
                .filter(|r| r.status == "UNSUBSCRIBED" && r.subscription_id == topic)
                .map(|r| r.subscriber_id_string.as_str())
                .collect(),
            failed: self.errors.iter().map(|e| e.context.to_string()).collect(),
        }
    }
}

/// The addresses one HubSpot batch answer confirms (see [`HubSpotAnswer::confirmed`]).
pub(crate) struct HubSpotConfirmed<'a> {
    done: std::collections::HashSet<&'a str>,
    /// Every error's context, joined: an address found in it is not confirmed.
    failed: String,
}

impl HubSpotConfirmed<'_> {
    /// Whether the answer confirms `address`.
    pub(crate) fn confirms(&self, address: &str) -> bool {
        self.done.contains(address) && (self.failed.is_empty() || !self.failed.contains(address))
    }
}

/// How many of the rows `first..last` HubSpot's batch answer `body` confirms: a result
/// `UNSUBSCRIBED` for its address and subscription, and no error naming the address.
fn hubspot_confirmed(body: &[u8], first: u64, last: u64) -> u64 {
    let Some(answer) = HubSpotAnswer::decode(body) else {
        return 0;
    };
    let confirmed = answer.confirmed();
    (first..last)
        .filter(|i| confirmed.confirms(&Prov::HubSpot.recipient(*i)))
        .count() as u64
}

/// The floor: reqwest, the same requests (method, path, headers, body), the whole answer
/// read, and nothing else. [`Floor::Read`] (the `floor-read` client) also decodes the answer
/// and confirms each row from it ([`novu_confirmed`], [`hubspot_confirmed`]), as a client
/// that reports each opt-out must. [`Floor::OneRow`] sends HubSpot's v3 call, one per row.
async fn floor(
    prov: Prov,
    base: &str,
    concurrency: usize,
    rows: u64,
    mode: Floor,
) -> Result<Value, BoxError> {
    if mode == Floor::OneRow && prov != Prov::HubSpot {
        return Err("floor-1row is HubSpot's".into());
    }
    let per_call = if mode == Floor::OneRow {
        1
    } else {
        prov.batch()
    };
    let client = reqwest::Client::builder().tcp_nodelay(true).build()?;
    let next = Arc::new(AtomicU64::new(0));
    let ok = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (client, next, ok) = (client.clone(), next.clone(), ok.clone());
        let base = base.to_string();
        tasks.push(tokio::spawn(async move {
            let mut latency = Histogram::new();
            let requests = rows.div_ceil(per_call);
            loop {
                let i = next.fetch_add(1, Relaxed);
                if i >= requests {
                    break;
                }
                let (method, mut path, headers, mut body) = prov.request(i, rows);
                if mode == Floor::OneRow {
                    (path, body) = hubspot_one_row(i);
                }
                let method = if method == "POST" {
                    reqwest::Method::POST
                } else {
                    reqwest::Method::DELETE
                };
                let t = Instant::now();
                let mut req = client.request(method, format!("{base}{path}"));
                for (k, v) in headers {
                    req = req.header(k, v);
                }
                if let Ok(res) = req.body(body).send().await {
                    let good = res.status().is_success();
                    let first = i * per_call;
                    let last = (first + per_call).min(rows);
                    match res.bytes().await {
                        Ok(bytes) if good && mode == Floor::Read && prov == Prov::Novu => {
                            ok.fetch_add(novu_confirmed(prov, &bytes, first, last), Relaxed);
                        }
                        Ok(bytes) if good && mode == Floor::Read => {
                            ok.fetch_add(hubspot_confirmed(&bytes, first, last), Relaxed);
                        }
                        Ok(_) if good => {
                            ok.fetch_add(last - first, Relaxed);
                        }
                        _ => {}
                    }
                }
                latency.record(t.elapsed());
            }
            latency
        }));
    }
    let mut latency = Histogram::new();
    for t in tasks {
        latency.merge(&t.await?);
    }
    let ok = ok.load(Relaxed);
    let v = json!({ "rows": rows, "ok": ok, "failed": rows - ok });
    Ok(with_stats(
        v,
        &latency.latency(),
        started,
        rows.div_ceil(per_call),
        concurrency,
    ))
}

/// Raw keep-alive HTTP/1.1 over `concurrency` connections for `secs`: the server's
/// capacity, with as little client cost as possible.
async fn load(prov: Prov, base: &str, concurrency: usize, secs: f64) -> Result<Value, BoxError> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr: SocketAddr = base.trim_start_matches("http://").parse()?;
    let deadline = Instant::now() + Duration::from_secs_f64(secs);
    let next = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (next, done, errors) = (next.clone(), done.clone(), errors.clone());
        tasks.push(tokio::spawn(async move {
            let Ok(mut tcp) = tokio::net::TcpStream::connect(addr).await else {
                errors.fetch_add(1, Relaxed);
                return;
            };
            let _ = tcp.set_nodelay(true);
            let mut buf = vec![0u8; 16 * 1024];
            let mut req = String::new();
            while Instant::now() < deadline {
                let i = next.fetch_add(1, Relaxed);
                let (method, path, headers, body) = prov.request(i, u64::MAX);
                req.clear();
                let _ = write!(req, "{method} {path} HTTP/1.1\r\nhost: {addr}\r\n");
                for (k, v) in headers {
                    let _ = write!(req, "{k}: {v}\r\n");
                }
                let _ = write!(req, "content-length: {}\r\n\r\n{body}", body.len());
                if tcp.write_all(req.as_bytes()).await.is_err() {
                    errors.fetch_add(1, Relaxed);
                    return;
                }
                // Read the head, then Content-Length bytes of body.
                let mut have = 0;
                let complete = loop {
                    match tcp.read(&mut buf[have..]).await {
                        Ok(0) | Err(_) => break false,
                        Ok(n) => have += n,
                    }
                    if let Some(end) = find(&buf[..have], b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
                        let len: usize = head
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .and_then(|v| v.trim().parse().ok())
                            .unwrap_or(0);
                        if buf.len() < end + 4 + len {
                            buf.resize(end + 4 + len, 0);
                        }
                        while have < end + 4 + len {
                            match tcp.read(&mut buf[have..]).await {
                                Ok(0) | Err(_) => break,
                                Ok(n) => have += n,
                            }
                        }
                        break have >= end + 4 + len;
                    }
                    if have == buf.len() {
                        break false;
                    }
                };
                if !complete {
                    errors.fetch_add(1, Relaxed);
                    return;
                }
                done.fetch_add(1, Relaxed);
            }
        }));
    }
    for t in tasks {
        t.await?;
    }
    let secs = started.elapsed().as_secs_f64();
    let n = done.load(Relaxed);
    Ok(
        json!({ "requests": n, "secs": secs, "per_sec": n as f64 / secs, "errors": errors.load(Relaxed) }),
    )
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}
