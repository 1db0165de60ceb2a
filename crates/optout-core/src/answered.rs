//! What a provider's batch made of each request, before its receipt is made: one batching
//! routine serves both [`Unsubscriber::unsubscribe_many`](crate::Unsubscriber::unsubscribe_many),
//! whose receipts copy each request's recipient and topics ([`receipts`]), and
//! [`Unsubscriber::unsubscribe_owned`](crate::Unsubscriber::unsubscribe_owned), whose receipts
//! take them ([`receipts_owned`]).
//!
//! ```
//! # mod optout { pub use optout_core::*; }
//! use std::time::SystemTime;
//! use optout::{Answered, Outcome, Provider, Recipient, TopicOutcome, Topics, Unsubscribe};
//!
//! let requests = vec![Unsubscribe::new(Recipient::subscriber("s-1")?, Topics::one("news"))];
//! // What the provider's answer said of each request:
//! let outcome = TopicOutcome { outcome: Outcome::Unsubscribed, reference: Some("r-1".into()) };
//! let answers = vec![Some(Answered::Batched { outcome: Ok(outcome), at: SystemTime::now(), topics: None })];
//! let receipts = optout::receipts_owned(Provider::Novu, requests, answers);
//! assert_eq!(receipts[0].as_ref().unwrap().topics, Topics::one("news"));
//! # Ok::<(), optout::Error>(())
//! ```

use std::time::SystemTime;

use crate::{Error, Provider, Receipt, Recipient, TopicOutcome, Topics, Unsubscribe};

/// What a provider's batch made of one request.
#[derive(Debug)]
pub enum Answered {
    /// Sent in a batch: what the provider's answer says of it and when that answer came; its
    /// receipt names the request's own topics, or `topics` when they were sent otherwise
    /// (a repeated topic dropped, say).
    Batched {
        /// The outcome, or the error, for this request.
        outcome: Result<TopicOutcome, Error>,
        /// When the answer confirmed it: one time for every request of one answer.
        at: SystemTime,
        /// The topics as sent, when they are not the request's own unchanged.
        topics: Option<Topics>,
    },
    /// Its receipt or its error, made already (sent on its own, or several calls folded).
    Whole(Result<Receipt, Error>),
}

impl Answered {
    /// The request's receipt from `provider`, made of its recipient and topics (`parts`,
    /// taken only for a batched request that succeeded), or its error.
    pub fn receipt(
        self,
        provider: Provider,
        parts: impl FnOnce() -> (Recipient, Topics),
    ) -> Result<Receipt, Error> {
        match self {
            Answered::Whole(result) => result,
            Answered::Batched {
                outcome,
                at,
                topics: sent,
            } => outcome.map(|t| {
                let (recipient, topics) = parts();
                let topics = sent.unwrap_or(topics);
                Receipt::confirmed_at(provider, recipient, topics, t.outcome, t.reference, at)
            }),
        }
    }
}

/// [`Unsubscriber::unsubscribe_many`](crate::Unsubscriber::unsubscribe_many)'s results from
/// the `answers` to `requests` (one slot each, in order): each receipt copies its request's
/// recipient and topics. A request whose slot is empty, or missing, gets an error ("no call
/// was made"), never a receipt.
pub fn receipts(
    provider: Provider,
    requests: &[Unsubscribe],
    answers: Vec<Option<Answered>>,
) -> Vec<Result<Receipt, Error>> {
    let mut answers = answers.into_iter();
    requests
        .iter()
        .map(|request| {
            answer_or_error(answers.next().flatten()).receipt(provider, || {
                (request.recipient.clone(), request.topics.clone())
            })
        })
        .collect()
}

/// [`Unsubscriber::unsubscribe_owned`](crate::Unsubscriber::unsubscribe_owned)'s results:
/// as [`receipts`], each receipt taking its request's recipient and topics.
pub fn receipts_owned(
    provider: Provider,
    requests: Vec<Unsubscribe>,
    answers: Vec<Option<Answered>>,
) -> Vec<Result<Receipt, Error>> {
    let mut answers = answers.into_iter();
    requests
        .into_iter()
        .map(|request| {
            answer_or_error(answers.next().flatten())
                .receipt(provider, || (request.recipient, request.topics))
        })
        .collect()
}

fn answer_or_error(answer: Option<Answered>) -> Answered {
    answer
        .unwrap_or_else(|| Answered::Whole(Err(Error::config("no call was made for this request"))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ErrorKind, Outcome};

    fn request(id: &str) -> Unsubscribe {
        Unsubscribe::new(Recipient::subscriber(id).unwrap(), Topics::only(["a", "a"]))
    }

    #[test]
    fn both_ways_give_the_same_receipts_and_a_request_without_an_answer_is_an_error() {
        let at = SystemTime::UNIX_EPOCH;
        let done = |reference: &str| TopicOutcome {
            outcome: Outcome::Unsubscribed,
            reference: Some(reference.into()),
        };
        // The fourth request's slot is empty and the fifth has none: both errors.
        let answers = || {
            vec![
                Some(Answered::Batched {
                    outcome: Ok(done("r-1")),
                    at,
                    topics: None,
                }),
                Some(Answered::Batched {
                    outcome: Ok(done("r-2")),
                    at,
                    topics: Some(Topics::one("a")),
                }),
                Some(Answered::Batched {
                    outcome: Err(Error::unconfirmed(Provider::Novu, "silent")),
                    at,
                    topics: None,
                }),
                None,
            ]
        };
        let requests: Vec<Unsubscribe> = ["s-1", "s-2", "s-3", "s-4", "s-5"].map(request).into();
        let copied = receipts(Provider::Novu, &requests, answers());
        let taken = receipts_owned(Provider::Novu, requests.clone(), answers());
        let show = |r: &Result<Receipt, Error>| format!("{r:?}");
        assert_eq!(
            copied.iter().map(show).collect::<Vec<_>>(),
            taken.iter().map(show).collect::<Vec<_>>()
        );
        let first = copied[0].as_ref().unwrap();
        assert_eq!(
            (&first.recipient, &first.topics, first.completed_at),
            (&requests[0].recipient, &requests[0].topics, at)
        );
        assert_eq!(copied[1].as_ref().unwrap().topics, Topics::one("a"));
        assert_eq!(copied[2].as_ref().unwrap_err().kind(), ErrorKind::Decode);
        assert_eq!(copied[3].as_ref().unwrap_err().kind(), ErrorKind::Config);
        assert_eq!(copied[4].as_ref().unwrap_err().kind(), ErrorKind::Config);
    }
}
