//! [`Unsubscriber`] for [`HubSpot`]: the unified request mapped onto the typed calls.

use optout_core::{
    async_trait, validate, Error, LegalBasis, Outcome, Provider, Receipt, Recipient, TopicOutcome,
    Topics, Unsubscribe, Unsubscriber,
};

use crate::client::{HubSpot, UnsubscribeOutcome};
use crate::decode::Confirmed;
use crate::wire::{check_legal_basis, UnsubscribeRequest};
use crate::PROVIDER;

#[async_trait]
impl Unsubscriber for HubSpot {
    fn provider(&self) -> Provider {
        PROVIDER
    }

    /// [`Topics::Only`]: one v3 unsubscribe per subscription id, with the request's legal
    /// basis, folded as [`optout_core::per_topic`] does (a failure never hides a success).
    ///
    /// [`Topics::All`]: the v4 unsubscribe-all (`verbose=true`); it is `AlreadyUnsubscribed`
    /// only when HubSpot's answer says nothing changed, otherwise `Unsubscribed`. That endpoint
    /// records no legal basis, so a request that gives one is refused as invalid input on
    /// `legal_basis` with nothing sent, rather than checked and silently dropped: an opt-out
    /// whose legal basis must be on record names its subscription ids (`Topics::Only`), whose
    /// calls record it. (Reaching "all" through the batch write would need the portal's
    /// subscription definitions first: another call, another scope.)
    ///
    /// Everything is checked before anything is sent; the reference is HubSpot's correlation
    /// id.
    async fn unsubscribe(&self, request: &Unsubscribe) -> Result<Receipt, Error> {
        let Recipient::Email { address } = &request.recipient else {
            return Err(Error::unsupported(
                PROVIDER,
                format!(
                    "unsubscribe a {} recipient; HubSpot takes an email address",
                    request.recipient.kind()
                ),
            ));
        };
        validate::email("recipient", address)?;
        let basis = request.legal_basis.as_ref().map(|(b, _)| *b);
        let explanation = request.legal_basis.as_ref().map(|(_, e)| e.as_str());
        check_legal_basis("legal_basis_explanation", basis, explanation)?;

        if request.topics == Topics::All {
            if let Some((basis, _)) = &request.legal_basis {
                return Err(Error::invalid_input(
                    "legal_basis",
                    format!(
                        "{basis} cannot be recorded with all topics: HubSpot's unsubscribe-all \
                         takes no legal basis; drop it, or name the subscription ids (--topic) \
                         to record it with each"
                    ),
                ));
            }
            let answer = self.unsubscribe_all(address).await?;
            return Ok(Receipt::new(
                PROVIDER,
                request.recipient.clone(),
                Topics::All,
                match answer.body.outcome() {
                    Outcome::AlreadyUnsubscribed => {
                        Outcome::already(answer.earlier_attempt_may_have_applied)
                    }
                    changed => changed,
                },
                answer.correlation_id,
            ));
        }
        let ids = validate::topic_ids(PROVIDER, "topic", &request.topics)?;
        let calls = ids
            .iter()
            .map(|id| self.v3_topic(address, id, basis, explanation));
        optout_core::per_topic(PROVIDER, request, &ids, calls).await
    }

    /// [`HubSpotBuilder::batch_size`](crate::HubSpotBuilder::batch_size): how many
    /// (address, subscription) pairs one batch write carries (default 100).
    fn batch_size(&self) -> usize {
        self.batch_size
    }

    /// The requests' (address, subscription id) pairs in v4 batch writes
    /// (`POST /communication-preferences/v4/statuses/batch/write`, up to
    /// [`batch_size`](Self::batch_size) pairs each), each answer mapped back to its requests:
    /// a status `UNSUBSCRIBED` is done (`NO_STATUS_CHANGE`: already), a listed error fails the
    /// pairs it names, and a pair the answer does not account for is
    /// [`Error::unconfirmed`]. A token without the batch scope (403) makes the client send
    /// one v3 call per pair instead, with one warning; see the `batch` module for the rest.
    async fn unsubscribe_many(&self, requests: &[Unsubscribe]) -> Vec<Result<Receipt, Error>> {
        let answers = self.unsubscribe_batched(requests).await;
        optout_core::receipts(PROVIDER, requests, answers)
    }

    /// [`unsubscribe_many`](Unsubscriber::unsubscribe_many), with each request's recipient
    /// and topics moved into its receipt.
    async fn unsubscribe_owned(&self, requests: Vec<Unsubscribe>) -> Vec<Result<Receipt, Error>> {
        let answers = self.unsubscribe_batched(&requests).await;
        optout_core::receipts_owned(PROVIDER, requests, answers)
    }

    /// The requests [`unsubscribe`](Unsubscriber::unsubscribe) would send, built by the same
    /// code and recorded instead of sent ([`optout_core::plan`]).
    async fn plan(&self, request: &Unsubscribe) -> Result<optout_core::Plan, Error> {
        optout_core::plan_by_capture(self, request).await
    }

    /// The requests [`unsubscribe_many`](Unsubscriber::unsubscribe_many) would send,
    /// recorded instead of sent.
    async fn plan_many(
        &self,
        requests: &[Unsubscribe],
    ) -> (optout_core::Plan, Vec<Result<(), Error>>) {
        optout_core::plan_many_by_capture(self, requests).await
    }
}

impl HubSpot {
    /// One v3 unsubscribe of `address` from subscription `id`, already checked, as one
    /// topic's outcome.
    pub(crate) async fn v3_topic(
        &self,
        address: &str,
        id: &str,
        basis: Option<LegalBasis>,
        explanation: Option<&str>,
    ) -> Result<TopicOutcome, Error> {
        let mut typed = UnsubscribeRequest::new(address, id);
        typed.legal_basis = basis;
        typed.legal_basis_explanation = explanation.map(str::to_owned);
        let answer = self.send_unsubscribe::<Confirmed>(&typed).await?;
        let outcome = match answer.body {
            UnsubscribeOutcome::Unsubscribed(_) => Outcome::Unsubscribed,
            UnsubscribeOutcome::AlreadyUnsubscribed { .. } => {
                Outcome::already(answer.earlier_attempt_may_have_applied)
            }
        };
        Ok(TopicOutcome {
            outcome,
            reference: answer.correlation_id,
        })
    }
}
