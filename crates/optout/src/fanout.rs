//! One person's opt-out, sent to every configured provider at once.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use optout_core::{
    Error, LegalBasis, Provider, Receipt, Recipient, Topics, Unsubscribe, Unsubscriber,
};

/// Who a person is at each provider, and what to unsubscribe them from there.
///
/// ```
/// use optout::{fanout::PersonOptOut, Provider, Topics};
/// let opt_out = PersonOptOut::default()
///     .email("alice@example.com")
///     .phone("+254 700 000000")
///     .device("a6345d0278adc55d3474f5")
///     .subscriber(Provider::Novu, "user-123")
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
#[derive(Debug, Default, Clone)]
pub struct FanOut {
    providers: Vec<Arc<dyn Unsubscriber>>,
}

impl FanOut {
    /// An empty fan-out.
    pub fn new() -> Self {
        FanOut::default()
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
    pub async fn unsubscribe(&self, opt_out: &PersonOptOut) -> Vec<ProviderResult> {
        join_all(
            self.providers
                .iter()
                .map(|client| one_provider(client.as_ref(), opt_out)),
        )
        .await
    }
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
}
