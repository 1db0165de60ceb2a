//! The one trait every provider implements, and the helper for providers that need one call
//! per topic.

use std::future::Future;
use std::sync::Arc;

use async_trait::async_trait;
use futures_util::stream::{self, StreamExt};

use crate::{Error, Outcome, Plan, Provider, Receipt, Recipient, Topics, Unsubscribe};

/// Honours an opt-out at one provider.
///
/// Object safe: hold any provider as `Box<dyn Unsubscriber>` or `Arc<dyn Unsubscriber>`.
///
/// ```
/// # mod optout { pub use optout_core::*; }
/// use optout::{async_trait, Error, Outcome, Provider, Receipt, Unsubscribe, Unsubscriber};
///
/// /// A provider that only records what it was asked (e.g. for tests).
/// #[derive(Debug)]
/// struct Recorder;
///
/// #[async_trait]
/// impl Unsubscriber for Recorder {
///     fn provider(&self) -> Provider { Provider::Migma }
///     async fn unsubscribe(&self, req: &Unsubscribe) -> Result<Receipt, Error> {
///         Ok(Receipt::new(self.provider(), req.recipient.clone(), req.topics.clone(),
///                         Outcome::Unsubscribed, None))
///     }
/// }
///
/// # tokio_test_block_on(async {
/// use optout::{Recipient, Topics};
/// let any: Box<dyn Unsubscriber> = Box::new(Recorder);
/// let receipt = any.unsubscribe(&Unsubscribe::new(Recipient::subscriber("c1")?, Topics::one("t"))).await?;
/// assert_eq!(receipt.outcome, Outcome::Unsubscribed);
/// # Ok::<(), Error>(()) });
/// # fn tokio_test_block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f) }
/// ```
#[async_trait]
pub trait Unsubscriber: Send + Sync + std::fmt::Debug {
    /// Which provider this is.
    fn provider(&self) -> Provider;

    /// Unsubscribes `request.recipient` from `request.topics`.
    ///
    /// Bad input, an unsupported recipient kind or `Topics::All` where the provider cannot
    /// take it are refused with nothing sent. When several topics need several calls, a
    /// failure on some is an [`ErrorKind::Partial`](crate::ErrorKind::Partial) error that
    /// still carries the receipts of the others.
    async fn unsubscribe(&self, request: &Unsubscribe) -> Result<Receipt, Error>;

    /// How many requests [`unsubscribe_many`](Self::unsubscribe_many) can fold into one call
    /// to the provider (1 unless the provider has a batch endpoint; Novu takes 100).
    fn batch_size(&self) -> usize {
        1
    }

    /// Unsubscribes several requests, answering one result per request, in order. Providers
    /// with a batch endpoint override this to send fewer calls; the default sends them one
    /// after another.
    async fn unsubscribe_many(&self, requests: &[Unsubscribe]) -> Vec<Result<Receipt, Error>> {
        let mut results = Vec::with_capacity(requests.len());
        for request in requests {
            results.push(self.unsubscribe(request).await);
        }
        results
    }

    /// [`unsubscribe_many`](Self::unsubscribe_many), taking the requests by value, so that a
    /// provider can move each request's recipient and topics into its receipt rather than
    /// copy them. The same calls and the same answers as `unsubscribe_many`; the sending
    /// [engine](crate::engine) (bulk runs, the outbox worker) calls this one. The default
    /// calls `unsubscribe_many`; a wrapper that overrides `unsubscribe_many` (to count or
    /// time calls) is called through it unless it overrides this too.
    async fn unsubscribe_owned(&self, requests: Vec<Unsubscribe>) -> Vec<Result<Receipt, Error>> {
        self.unsubscribe_many(&requests).await
    }

    /// A dry run of [`unsubscribe`](Self::unsubscribe): the requests it would send (secrets
    /// redacted), with nothing sent. Bad input is refused with the same error `unsubscribe`
    /// gives. When later requests depend on the answers, the plan holds the first ones and
    /// [`Plan::then`] says what may follow.
    ///
    /// Every provider of optout implements it with [`plan::capture`](crate::plan::capture):
    /// its own request building, recorded instead of sent. The default refuses with
    /// [`ErrorKind::Unsupported`](crate::ErrorKind::Unsupported) and sends nothing, since an
    /// implementation that does not send through [`HttpClient`](crate::HttpClient) cannot be
    /// run without sending.
    async fn plan(&self, request: &Unsubscribe) -> Result<Plan, Error> {
        let _ = request;
        Err(cannot_plan(self.provider()))
    }

    /// A dry run of [`unsubscribe_many`](Self::unsubscribe_many): the requests it would send
    /// for all of `requests` (a provider's batch calls included), and for each request `Ok`
    /// or the error that refuses it before sending. The default refuses every request, as
    /// [`plan`](Self::plan) does.
    async fn plan_many(&self, requests: &[Unsubscribe]) -> (Plan, Vec<Result<(), Error>>) {
        let refused = requests
            .iter()
            .map(|_| Err(cannot_plan(self.provider())))
            .collect();
        (Plan::default(), refused)
    }
}

fn cannot_plan(provider: Provider) -> Error {
    Error::unsupported(
        provider,
        "plan a dry run with this client: it does not implement `Unsubscriber::plan`",
    )
}

/// [`Unsubscriber::plan`] for a client that sends through [`HttpClient`](crate::HttpClient):
/// its `unsubscribe`, recorded instead of sent.
pub async fn plan_by_capture<U: Unsubscriber + ?Sized>(
    client: &U,
    request: &Unsubscribe,
) -> Result<Plan, Error> {
    let (result, plan) = crate::plan::capture(client.unsubscribe(request)).await;
    crate::plan::checked(result).map(|()| plan)
}

/// [`Unsubscriber::plan_many`] for a client that sends through
/// [`HttpClient`](crate::HttpClient): its `unsubscribe_many`, recorded instead of sent.
pub async fn plan_many_by_capture<U: Unsubscriber + ?Sized>(
    client: &U,
    requests: &[Unsubscribe],
) -> (Plan, Vec<Result<(), Error>>) {
    let (results, plan) = crate::plan::capture(client.unsubscribe_many(requests)).await;
    (
        plan,
        results.into_iter().map(crate::plan::checked).collect(),
    )
}

#[async_trait]
impl<T: Unsubscriber + ?Sized> Unsubscriber for Box<T> {
    fn provider(&self) -> Provider {
        (**self).provider()
    }
    async fn unsubscribe(&self, request: &Unsubscribe) -> Result<Receipt, Error> {
        (**self).unsubscribe(request).await
    }
    fn batch_size(&self) -> usize {
        (**self).batch_size()
    }
    async fn unsubscribe_many(&self, requests: &[Unsubscribe]) -> Vec<Result<Receipt, Error>> {
        (**self).unsubscribe_many(requests).await
    }
    async fn unsubscribe_owned(&self, requests: Vec<Unsubscribe>) -> Vec<Result<Receipt, Error>> {
        (**self).unsubscribe_owned(requests).await
    }
    async fn plan(&self, request: &Unsubscribe) -> Result<Plan, Error> {
        (**self).plan(request).await
    }
    async fn plan_many(&self, requests: &[Unsubscribe]) -> (Plan, Vec<Result<(), Error>>) {
        (**self).plan_many(requests).await
    }
}

#[async_trait]
impl<T: Unsubscriber + ?Sized> Unsubscriber for Arc<T> {
    fn provider(&self) -> Provider {
        (**self).provider()
    }
    async fn unsubscribe(&self, request: &Unsubscribe) -> Result<Receipt, Error> {
        (**self).unsubscribe(request).await
    }
    fn batch_size(&self) -> usize {
        (**self).batch_size()
    }
    async fn unsubscribe_many(&self, requests: &[Unsubscribe]) -> Vec<Result<Receipt, Error>> {
        (**self).unsubscribe_many(requests).await
    }
    async fn unsubscribe_owned(&self, requests: Vec<Unsubscribe>) -> Vec<Result<Receipt, Error>> {
        (**self).unsubscribe_owned(requests).await
    }
    async fn plan(&self, request: &Unsubscribe) -> Result<Plan, Error> {
        (**self).plan(request).await
    }
    async fn plan_many(&self, requests: &[Unsubscribe]) -> (Plan, Vec<Result<(), Error>>) {
        (**self).plan_many(requests).await
    }
}

#[async_trait]
impl<T: Unsubscriber + ?Sized> Unsubscriber for &T {
    fn provider(&self) -> Provider {
        (**self).provider()
    }
    async fn unsubscribe(&self, request: &Unsubscribe) -> Result<Receipt, Error> {
        (**self).unsubscribe(request).await
    }
    fn batch_size(&self) -> usize {
        (**self).batch_size()
    }
    async fn unsubscribe_many(&self, requests: &[Unsubscribe]) -> Vec<Result<Receipt, Error>> {
        (**self).unsubscribe_many(requests).await
    }
    async fn unsubscribe_owned(&self, requests: Vec<Unsubscribe>) -> Vec<Result<Receipt, Error>> {
        (**self).unsubscribe_owned(requests).await
    }
    async fn plan(&self, request: &Unsubscribe) -> Result<Plan, Error> {
        (**self).plan(request).await
    }
    async fn plan_many(&self, requests: &[Unsubscribe]) -> (Plan, Vec<Result<(), Error>>) {
        (**self).plan_many(requests).await
    }
}

/// Conveniences over [`Unsubscriber`], for every implementation.
#[async_trait]
pub trait UnsubscriberExt: Unsubscriber {
    /// Unsubscribes `recipient` from `topics`, with no legal basis or idempotency key.
    async fn unsubscribe_from(
        &self,
        recipient: Recipient,
        topics: Topics,
    ) -> Result<Receipt, Error> {
        self.unsubscribe(&Unsubscribe::new(recipient, topics)).await
    }
}

impl<T: Unsubscriber + ?Sized> UnsubscriberExt for T {}

/// What one topic's call said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicOutcome {
    /// Unsubscribed or already.
    pub outcome: Outcome,
    /// The provider's reference, if any.
    pub reference: Option<String>,
}

/// How many topic calls of one request run at once.
pub const TOPIC_CONCURRENCY: usize = 4;

/// Runs `calls`, one future per topic id in `topic_ids` and in the same order (at most
/// [`TOPIC_CONCURRENCY`] at a time), and folds the answers into one receipt.
///
/// All succeed: one receipt, `Unsubscribed` if any topic changed. One topic only: its error
/// as it is. Several, some failed: an [`ErrorKind::Partial`](crate::ErrorKind::Partial) error
/// with a receipt per confirmed topic and the error of each failed one, so that a failure
/// never hides a success and nothing unconfirmed is reported as done.
///
/// The futures are made by the caller before anything is awaited, which keeps this future
/// `Send` inside `#[async_trait]` methods:
///
/// ```ignore
/// per_topic(PROVIDER, request, &ids, ids.iter().map(|id| self.one_topic(id))).await
/// ```
pub async fn per_topic<Fut>(
    provider: Provider,
    request: &Unsubscribe,
    topic_ids: &[String],
    calls: impl IntoIterator<Item = Fut>,
) -> Result<Receipt, Error>
where
    Fut: Future<Output = Result<TopicOutcome, Error>>,
{
    let receipt = |topics: Topics, outcome, reference| {
        Receipt::new(
            provider,
            request.recipient.clone(),
            topics,
            outcome,
            reference,
        )
    };
    // Every future is made before anything is awaited, which keeps this future `Send`.
    let mut calls: Vec<Fut> = calls.into_iter().collect();
    // One topic (the common case, and every row of a bulk run): its answer is the receipt,
    // with no stream, no list of answers and no receipt per topic to fold.
    if let ([_], 1) = (topic_ids, calls.len()) {
        // Awaited without a binding: `let call = ...; call.await` kept room for the call twice
        // in this future (HubSpot's `unsubscribe` future: 3,272 -> 1,744 bytes, allocated
        // and copied once per row in a bulk run).
        if let Some(t) = futures_util::future::OptionFuture::from(calls.pop()).await {
            let t = t?;
            return Ok(receipt(
                Topics::Only(topic_ids.to_vec()),
                t.outcome,
                t.reference,
            ));
        }
    }
    let mut answers: Vec<Result<TopicOutcome, Error>> = stream::iter(calls)
        .buffered(TOPIC_CONCURRENCY)
        .collect()
        .await;
    // A caller that gave fewer calls than ids must not have the rest reported as done.
    while answers.len() < topic_ids.len() {
        answers.push(Err(Error::config("no call was made for this topic")));
    }
    let results = topic_ids.iter().cloned().zip(answers);

    let mut done = Vec::new();
    let mut failed = Vec::new();
    for (id, result) in results {
        match result {
            Ok(t) => done.push(receipt(Topics::Only(vec![id]), t.outcome, t.reference)),
            Err(e) => failed.push((id, e)),
        }
    }
    if failed.is_empty() {
        let outcome = done
            .iter()
            .map(|r| r.outcome)
            .reduce(Outcome::merge)
            .unwrap_or(Outcome::AlreadyUnsubscribed);
        let references: Vec<&str> = done.iter().filter_map(|r| r.reference.as_deref()).collect();
        let reference = (!references.is_empty()).then(|| references.join(","));
        return Ok(receipt(
            Topics::Only(topic_ids.to_vec()),
            outcome,
            reference,
        ));
    }
    if topic_ids.len() == 1 {
        let (_, error) = failed.remove(0);
        return Err(error);
    }
    Err(Error::partial_failure(provider, done, failed))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    fn request(topics: &[&str]) -> Unsubscribe {
        Unsubscribe::new(
            Recipient::subscriber("c1").unwrap(),
            Topics::only(topics.iter().copied()),
        )
    }

    fn ids(topics: &[&str]) -> Vec<String> {
        topics.iter().map(|s| s.to_string()).collect()
    }

    async fn fold(req: &Unsubscribe, topics: &[&str]) -> Result<Receipt, Error> {
        let ids = ids(topics);
        per_topic(Provider::Migma, req, &ids, ids.iter().map(|id| fake(id))).await
    }

    async fn fake(id: &str) -> Result<TopicOutcome, Error> {
        match id {
            "new" | "new2" => Ok(TopicOutcome {
                outcome: Outcome::Unsubscribed,
                reference: Some(format!("ref-{id}")),
            }),
            "old" => Ok(TopicOutcome {
                outcome: Outcome::AlreadyUnsubscribed,
                reference: None,
            }),
            _ => Err(Error::api(Provider::Migma, 404).with_message("no such topic")),
        }
    }

    #[tokio::test]
    async fn all_done_merges_into_one_receipt() {
        let req = request(&["new", "old", "new2"]);
        let r = fold(&req, &["new", "old", "new2"]).await.unwrap();
        assert_eq!(r.outcome, Outcome::Unsubscribed);
        assert_eq!(r.topics, Topics::only(["new", "old", "new2"]));
        assert_eq!(r.reference.as_deref(), Some("ref-new,ref-new2"));

        let r = fold(&req, &["old"]).await.unwrap();
        assert_eq!(r.outcome, Outcome::AlreadyUnsubscribed);
    }

    #[tokio::test]
    async fn one_topic_failing_is_its_own_error() {
        let req = request(&["gone"]);
        let e = fold(&req, &["gone"]).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotFound);
    }

    #[tokio::test]
    async fn a_failure_never_hides_a_success() {
        let req = request(&["new", "gone"]);
        let e = fold(&req, &["new", "gone"]).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Partial);
        let partial = e.partial().unwrap();
        assert_eq!(partial.done.len(), 1);
        assert_eq!(partial.done[0].topics, Topics::one("new"));
        assert_eq!(partial.failed[0].0, "gone");
        assert_eq!(partial.failed[0].1.kind(), ErrorKind::NotFound);
    }

    #[derive(Debug)]
    struct PerTopic;

    #[async_trait]
    impl Unsubscriber for PerTopic {
        fn provider(&self) -> Provider {
            Provider::Migma
        }
        async fn unsubscribe(&self, request: &Unsubscribe) -> Result<Receipt, Error> {
            let ids = request.topics.ids().unwrap_or_default().to_vec();
            per_topic(
                Provider::Migma,
                request,
                &ids,
                ids.iter().map(|id| self.call(id)),
            )
            .await
        }
    }

    impl PerTopic {
        async fn call(&self, id: &str) -> Result<TopicOutcome, Error> {
            fake(id).await
        }
    }

    #[tokio::test]
    async fn per_topic_can_be_awaited_inside_an_async_trait_method() {
        let r = PerTopic
            .unsubscribe(&request(&["new", "old"]))
            .await
            .unwrap();
        assert_eq!(r.outcome, Outcome::Unsubscribed);
    }

    #[derive(Debug)]
    struct Fixed;

    #[async_trait]
    impl Unsubscriber for Fixed {
        fn provider(&self) -> Provider {
            Provider::Novu
        }
        async fn unsubscribe(&self, request: &Unsubscribe) -> Result<Receipt, Error> {
            Ok(Receipt::new(
                Provider::Novu,
                request.recipient.clone(),
                request.topics.clone(),
                Outcome::AlreadyUnsubscribed,
                None,
            ))
        }
    }

    #[tokio::test]
    async fn the_trait_works_through_box_arc_and_the_extension() {
        let boxed: Box<dyn Unsubscriber> = Box::new(Fixed);
        let shared: Arc<dyn Unsubscriber> = Arc::new(Fixed);
        let req = request(&["t"]);
        assert_eq!(boxed.provider(), Provider::Novu);
        assert_eq!(
            boxed.unsubscribe(&req).await.unwrap().outcome,
            Outcome::AlreadyUnsubscribed
        );
        assert_eq!(
            shared.unsubscribe(&req).await.unwrap().provider,
            Provider::Novu
        );
        let list: Vec<Box<dyn Unsubscriber>> = vec![Box::new(Fixed), Box::new(shared.clone())];
        for u in &list {
            let r = u
                .unsubscribe_from(Recipient::subscriber("s").unwrap(), Topics::one("x"))
                .await
                .unwrap();
            assert_eq!(r.topics, Topics::one("x"));
        }
    }
}
