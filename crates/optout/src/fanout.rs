//! One person's opt-out, sent to every configured provider at once.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use optout_core::{
    Error, ErrorKind, LegalBasis, Provider, Receipt, Recipient, Topics, Unsubscribe, Unsubscriber,
};

use crate::connect::Overrides;

/// Who a person is at each provider, and what to unsubscribe them from there.
///
/// ```
/// use optout::{fanout::PersonOptOut, Provider, Topics};
/// let opt_out = PersonOptOut::default()
///     .email("alice@example.com")
///     .phone("+254 700 000000")
///     .device("a6345d0278adc55d3474f5")
///     .subscriber(Provider::Migma, "contact_42")
///     .subscriber_with_identifier(Provider::Novu, "user-123", "sub-7") // one subscription only
///     .topics(Provider::HubSpot, Topics::one("12345"))
///     .topics(Provider::Pushy, Topics::All);
/// assert_eq!(opt_out.devices.len(), 1);
/// ```
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct PersonOptOut {
    /// The email address (HubSpot).
    pub email: Option<String>,
    /// The phone number (Mobivate).
    pub phone: Option<String>,
    /// Push device tokens (Pushy); each is unsubscribed.
    pub devices: Vec<String>,
    /// Provider-side ids: the contact id at Migma, the subscriber id (and optional subscription
    /// identifier) at Novu.
    pub subscribers: BTreeMap<Provider, (String, Option<String>)>,
    /// The topics per provider. A provider without topics here is skipped.
    pub topics: BTreeMap<Provider, Topics>,
    /// The legal basis recorded where the provider takes one (HubSpot).
    pub legal_basis: Option<(LegalBasis, String)>,
}

impl PersonOptOut {
    /// Sets the email address.
    pub fn email(mut self, email: impl Into<String>) -> Self {
        self.email = Some(email.into());
        self
    }

    /// Sets the phone number.
    pub fn phone(mut self, phone: impl Into<String>) -> Self {
        self.phone = Some(phone.into());
        self
    }

    /// Adds a push device token.
    pub fn device(mut self, token: impl Into<String>) -> Self {
        self.devices.push(token.into());
        self
    }

    /// Sets the person's id at `provider` (Migma contact id, Novu subscriber id).
    pub fn subscriber(mut self, provider: Provider, id: impl Into<String>) -> Self {
        self.subscribers.insert(provider, (id.into(), None));
        self
    }

    /// Sets the person's id at `provider` together with one subscription identifier (Novu:
    /// only that subscription of the subscriber is removed).
    pub fn subscriber_with_identifier(
        mut self,
        provider: Provider,
        id: impl Into<String>,
        identifier: impl Into<String>,
    ) -> Self {
        self.subscribers
            .insert(provider, (id.into(), Some(identifier.into())));
        self
    }

    /// Sets the topics at `provider`.
    pub fn topics(mut self, provider: Provider, topics: Topics) -> Self {
        self.topics.insert(provider, topics);
        self
    }

    /// Sets the legal basis.
    pub fn legal_basis(mut self, basis: LegalBasis, explanation: impl Into<String>) -> Self {
        self.legal_basis = Some((basis, explanation.into()));
        self
    }

    /// The recipients `provider` can take, each checked; `Ok(empty)` when the person has no
    /// identity there.
    fn recipients(&self, provider: Provider) -> Result<Vec<Recipient>, Error> {
        Ok(match provider {
            Provider::HubSpot => self
                .email
                .iter()
                .map(Recipient::email)
                .collect::<Result<_, _>>()?,
            Provider::Mobivate => self
                .phone
                .iter()
                .map(Recipient::phone)
                .collect::<Result<_, _>>()?,
            Provider::Pushy => self
                .devices
                .iter()
                .map(Recipient::device)
                .collect::<Result<_, _>>()?,
            _ => match self.subscribers.get(&provider) {
                Some((id, None)) => vec![Recipient::subscriber(id)?],
                Some((id, Some(identifier))) => {
                    vec![Recipient::subscriber_with_identifier(id, identifier)?]
                }
                None => Vec::new(),
            },
        })
    }
}

/// What one provider did with the opt-out.
#[derive(Debug)]
#[non_exhaustive]
pub struct ProviderResult {
    /// The provider.
    pub provider: Provider,
    /// One receipt per recipient confirmed.
    pub receipts: Vec<Receipt>,
    /// One error per recipient that failed (including refused input, nothing sent).
    pub errors: Vec<Error>,
    /// Why nothing was sent, when the person has no identity or no topics at this provider.
    pub skipped: Option<String>,
    /// Time from the first request to the last answer.
    pub elapsed: Duration,
}

impl ProviderResult {
    /// Every recipient confirmed, and something was sent.
    pub fn is_done(&self) -> bool {
        self.errors.is_empty() && self.skipped.is_none() && !self.receipts.is_empty()
    }
}

/// Sends one person's opt-out to several providers concurrently.
///
/// One provider's failure never hides another's success: the answer has one
/// [`ProviderResult`] per provider, in the order they were added. A provider that was not
/// sent anything says so in [`ProviderResult::skipped`]; it is never reported as done.
///
/// Topics given for a provider that is not in the fan-out are an error in the answer (an
/// [`ErrorKind::InvalidInput`] result for that provider), never silently dropped.
#[derive(Debug, Default, Clone)]
pub struct FanOut {
    providers: Vec<Arc<dyn Unsubscriber>>,
    left_out: Vec<(Provider, String)>,
}

impl FanOut {
    /// An empty fan-out.
    pub fn new() -> Self {
        FanOut::default()
    }

    /// Every provider whose credentials are set in the environment (the variables in the
    /// README, e.g. `HUBSPOT_ACCESS_TOKEN`), built with [`crate::from_env`]; the others are
    /// listed by [`FanOut::left_out`] with the reason.
    ///
    /// A provider whose credentials are set but whose configuration is incomplete or wrong
    /// (`MIGMA_API_KEY` without `MIGMA_PROJECT_ID`, a bad `<PROVIDER>_BASE_URL`) is an error,
    /// not left out quietly; so is an environment with no provider's credentials at all.
    ///
    /// ```no_run
    /// use optout::fanout::FanOut;
    ///
    /// let fanout = FanOut::from_env()?;
    /// let names: Vec<String> = fanout.providers().map(|p| p.to_string()).collect();
    /// eprintln!("sending to {}", names.join(", "));
    /// for (provider, why) in fanout.left_out() {
    ///     eprintln!("not sending to {provider}: {why}");
    /// }
    /// # Ok::<(), optout::Error>(())
    /// ```
    pub fn from_env() -> Result<FanOut, Error> {
        FanOut::from_env_with(&Overrides::new())
    }

    /// [`FanOut::from_env`] with `overrides` (timeout, retries, a shared `reqwest::Client`)
    /// applied to every client. An override's base URL would send every provider to one
    /// address, which only a sandbox serves.
    pub fn from_env_with(overrides: &Overrides) -> Result<FanOut, Error> {
        let mut fanout = FanOut::new();
        for provider in Provider::ALL {
            match crate::from_env(provider, overrides) {
                Ok(client) => fanout.push(client),
                Err(error)
                    if error.kind() == ErrorKind::Unsupported
                        || (error.kind() == ErrorKind::Config && !credentials_set(provider)) =>
                {
                    fanout.left_out.push((provider, error.to_string()));
                }
                Err(error) => return Err(error),
            }
        }
        if fanout.providers.is_empty() {
            let vars: Vec<&str> = Provider::ALL
                .iter()
                .filter_map(|p| credential_vars(*p).first().copied())
                .collect();
            return Err(Error::config(format!(
                "no provider's credentials are set; set at least one of {}",
                vars.join(", ")
            )));
        }
        Ok(fanout)
    }

    /// The providers [`FanOut::from_env`] left out, each with why (its credentials are not
    /// set, or this build lacks its Cargo feature). Empty for a fan-out built by hand.
    pub fn left_out(&self) -> &[(Provider, String)] {
        &self.left_out
    }

    /// Adds a provider client.
    pub fn with(mut self, client: impl Unsubscriber + 'static) -> Self {
        self.providers.push(Arc::new(client));
        self
    }

    /// Adds a shared provider client.
    pub fn push(&mut self, client: Arc<dyn Unsubscriber>) {
        self.providers.push(client);
    }

    /// The providers, in order.
    pub fn providers(&self) -> impl Iterator<Item = Provider> + '_ {
        self.providers.iter().map(|p| p.provider())
    }

    /// Unsubscribes the person everywhere at once and reports per provider.
    ///
    /// Topics given for a provider that is not in this fan-out get a result of their own
    /// (after the others), with an [`ErrorKind::InvalidInput`] error: nothing could be sent
    /// there, and the caller must know.
    pub async fn unsubscribe(&self, opt_out: &PersonOptOut) -> Vec<ProviderResult> {
        let mut results = join_all(
            self.providers
                .iter()
                .map(|client| one_provider(client.as_ref(), opt_out)),
        )
        .await;
        let present: Vec<Provider> = self.providers().collect();
        for provider in opt_out.topics.keys().filter(|p| !present.contains(p)) {
            let names: Vec<&str> = present.iter().map(|p| p.as_str()).collect();
            let error = Error::invalid_input(
                "topics",
                format!(
                    "topics were given for {provider}, which is not in this fan-out (it has: {}); nothing was sent to {provider}",
                    if names.is_empty() { "no provider".to_string() } else { names.join(", ") }
                ),
            )
            .with_provider(*provider);
            results.push(ProviderResult {
                provider: *provider,
                receipts: Vec::new(),
                errors: vec![error],
                skipped: None,
                elapsed: Duration::ZERO,
            });
        }
        results
    }
}

/// The variables holding `provider`'s credentials, the main one first: when any is set, the
/// provider is meant to be used, so a failure to build it is an error.
fn credential_vars(provider: Provider) -> &'static [&'static str] {
    match provider {
        Provider::Migma => &["MIGMA_API_KEY", "MIGMA_PROJECT_ID"],
        Provider::Novu => &["NOVU_SECRET_KEY"],
        Provider::Pushy => &["PUSHY_SECRET_API_KEY"],
        Provider::Mobivate => &["MOBIVATE_ACCOUNT_ID"],
        Provider::HubSpot => &[
            "HUBSPOT_ACCESS_TOKEN",
            "HUBSPOT_CLIENT_ID",
            "HUBSPOT_CLIENT_SECRET",
            "HUBSPOT_REFRESH_TOKEN",
        ],
        _ => &[],
    }
}

fn credentials_set(provider: Provider) -> bool {
    credential_vars(provider)
        .iter()
        .any(|var| std::env::var_os(var).is_some_and(|v| !v.is_empty()))
}

async fn one_provider(client: &dyn Unsubscriber, opt_out: &PersonOptOut) -> ProviderResult {
    let provider = client.provider();
    let started = Instant::now();
    let mut result = ProviderResult {
        provider,
        receipts: Vec::new(),
        errors: Vec::new(),
        skipped: None,
        elapsed: Duration::ZERO,
    };
    let Some(topics) = opt_out.topics.get(&provider) else {
        result.skipped = Some(format!("no topics given for {provider}"));
        return result;
    };
    let recipients = match opt_out.recipients(provider) {
        Ok(r) if r.is_empty() => {
            result.skipped = Some(format!("no identity the {provider} API takes was given"));
            return result;
        }
        Ok(r) => r,
        Err(e) => {
            result.errors.push(e.with_provider(provider));
            return result;
        }
    };
    let requests: Vec<Unsubscribe> = recipients
        .into_iter()
        .map(|recipient| {
            let request = Unsubscribe::new(recipient, topics.clone());
            match &opt_out.legal_basis {
                Some((basis, why)) => request.legal_basis(*basis, why.clone()),
                None => request,
            }
        })
        .collect();
    for answer in join_all(requests.iter().map(|r| client.unsubscribe(r))).await {
        match answer {
            Ok(receipt) => result.receipts.push(receipt),
            Err(error) => result.errors.push(error),
        }
    }
    result.elapsed = started.elapsed();
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use optout_core::{async_trait, ErrorKind, Outcome};

    #[derive(Debug)]
    struct Fake(Provider, bool);

    #[async_trait]
    impl Unsubscriber for Fake {
        fn provider(&self) -> Provider {
            self.0
        }
        async fn unsubscribe(&self, req: &Unsubscribe) -> Result<Receipt, Error> {
            if self.1 {
                Ok(Receipt::new(
                    self.0,
                    req.recipient.clone(),
                    req.topics.clone(),
                    Outcome::Unsubscribed,
                    None,
                ))
            } else {
                Err(Error::api(self.0, 503))
            }
        }
    }

    #[tokio::test]
    async fn one_failure_never_hides_another_success_and_unsent_is_never_done() {
        let fan = FanOut::new()
            .with(Fake(Provider::HubSpot, true))
            .with(Fake(Provider::Novu, false))
            .with(Fake(Provider::Pushy, true))
            .with(Fake(Provider::Mobivate, true))
            .with(Fake(Provider::Migma, true));
        let opt_out = PersonOptOut::default()
            .email("alice@example.com")
            .device("d1")
            .device("d2")
            .subscriber(Provider::Novu, "s1")
            .phone("not a phone")
            .topics(Provider::HubSpot, Topics::one("1"))
            .topics(Provider::Novu, Topics::one("news"))
            .topics(Provider::Pushy, Topics::All)
            .topics(Provider::Mobivate, Topics::one("c"));
        let results = fan.unsubscribe(&opt_out).await;
        let by: BTreeMap<_, _> = results.iter().map(|r| (r.provider, r)).collect();
        assert!(by[&Provider::HubSpot].is_done());
        assert_eq!(by[&Provider::Novu].errors[0].kind(), ErrorKind::Server);
        assert!(!by[&Provider::Novu].is_done());
        assert_eq!(by[&Provider::Pushy].receipts.len(), 2, "every device");
        let mobivate = by[&Provider::Mobivate];
        assert_eq!(mobivate.errors[0].kind(), ErrorKind::InvalidInput);
        assert_eq!(mobivate.errors[0].provider(), Some(Provider::Mobivate));
        let migma = by[&Provider::Migma];
        assert!(migma.skipped.is_some() && !migma.is_done() && migma.receipts.is_empty());
    }

    #[derive(Debug)]
    struct Echo(Provider);

    #[async_trait]
    impl Unsubscriber for Echo {
        fn provider(&self) -> Provider {
            self.0
        }
        async fn unsubscribe(&self, req: &Unsubscribe) -> Result<Receipt, Error> {
            Ok(Receipt::new(
                self.0,
                req.recipient.clone(),
                req.topics.clone(),
                Outcome::Unsubscribed,
                None,
            ))
        }
    }

    #[tokio::test]
    async fn topics_for_a_provider_not_in_the_fan_out_are_an_error_not_ignored() {
        let fan = FanOut::new().with(Echo(Provider::HubSpot));
        let opt_out = PersonOptOut::default()
            .email("alice@example.com")
            .phone("254700000000")
            .topics(Provider::HubSpot, Topics::one("1"))
            .topics(Provider::Mobivate, Topics::one("c"));
        let results = fan.unsubscribe(&opt_out).await;
        assert_eq!(results.len(), 2, "{results:?}");
        assert!(results[0].is_done(), "the others are still sent");
        let mobivate = &results[1];
        assert_eq!(mobivate.provider, Provider::Mobivate);
        assert!(!mobivate.is_done());
        let error = &mobivate.errors[0];
        assert_eq!(error.kind(), ErrorKind::InvalidInput);
        assert_eq!(error.provider(), Some(Provider::Mobivate));
        let line = error.to_string();
        assert!(
            line.contains("not in this fan-out") && line.contains("hubspot"),
            "{line}"
        );
    }

    #[tokio::test]
    async fn a_novu_subscription_identifier_reaches_the_request() {
        let fan = FanOut::new().with(Echo(Provider::Novu));
        let opt_out = PersonOptOut::default()
            .subscriber_with_identifier(Provider::Novu, "user-123", "sub-7")
            .topics(Provider::Novu, Topics::one("news"));
        let results = fan.unsubscribe(&opt_out).await;
        assert_eq!(
            results[0].receipts[0].recipient,
            Recipient::subscriber_with_identifier("user-123", "sub-7").unwrap()
        );
    }
}
