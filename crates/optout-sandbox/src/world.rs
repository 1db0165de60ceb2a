//! The sandbox's world: which topics exist, who is subscribed to what, and the [`Seed`] that
//! closes it.
//!
//! Every provider has its own world. A world is **open** unless the seed names its provider:
//! then every topic (campaign, subscription id) exists and every recipient is subscribed to
//! everything until unsubscribed. A world named in the seed is **closed**: only the listed
//! topics exist and only the listed subscriptions are active.

use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::hash::{BuildHasher, RandomState};
use std::path::Path;
use std::sync::{Mutex, MutexGuard, PoisonError, RwLock};

use serde::{Deserialize, Serialize};

use crate::{Api, Error};

/// A description of a closed world, usually read from JSON.
///
/// Each provider named here gets a closed world; providers not named stay open. In a provider's
/// section, `topics` are the ids that exist (Migma topic ids, Novu topic keys, Mobivate campaign
/// ids, HubSpot subscription ids; Pushy creates topics on demand, so its `topics` only matter
/// for listing), `recipients` are the known recipients without any subscription (Novu
/// subscriber ids and Pushy device tokens must be known, or they are refused), and
/// `subscriptions` are the active (recipient, topic) pairs. The topics and recipients of the
/// subscriptions are known too, so they need not be repeated.
///
/// ```
/// use optout_sandbox::{Api, Seed};
///
/// let seed = Seed::from_json(r#"{
///   "migma":    {"topics": ["newsletter"],
///                "subscriptions": [{"recipient": "contact_42", "topic": "newsletter"}]},
///   "novu":     {"topics": ["product-updates"], "recipients": ["user-456"],
///                "subscriptions": [{"recipient": "user-123", "topic": "product-updates"}]},
///   "pushy":    {"devices": ["a6345d0278adc55d3474f5"]},
///   "mobivate": {"campaigns": ["c71e2c2ee68b410a82d6c5f910c2d428"],
///                "subscriptions": [{"recipient": "254700000000",
///                                   "topic": "c71e2c2ee68b410a82d6c5f910c2d428"}]},
///   "hubspot":  {"topics": ["123", "456"],
///                "subscriptions": [{"recipient": "alice@example.com", "topic": "123"}]}
/// }"#)?;
///
/// // The same seed, built in code:
/// let built = Seed::new()
///     .subscription(Api::HubSpot, "alice@example.com", "123")
///     .topic(Api::HubSpot, "456");
/// assert_eq!(built.get(Api::HubSpot).map(|s| s.subscriptions.len()), Some(1));
/// # Ok::<(), optout_sandbox::Error>(())
/// ```
///
/// Unknown keys are refused, so a typo does not silently leave a world open.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Seed {
    /// Migma's world: topics and contact subscriptions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub migma: Option<ApiSeed>,
    /// Novu's world: topic keys, subscribers and subscriptions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub novu: Option<ApiSeed>,
    /// Pushy's world: device tokens and their topics.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pushy: Option<ApiSeed>,
    /// Mobivate's world: campaigns and the MSISDNs subscribed to them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mobivate: Option<ApiSeed>,
    /// HubSpot's world: subscription ids and the email addresses subscribed to them.
    #[serde(default, alias = "hubSpot", skip_serializing_if = "Option::is_none")]
    pub hubspot: Option<ApiSeed>,
}

/// One provider's closed world in a [`Seed`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiSeed {
    /// The topic ids that exist (alias `campaigns`).
    #[serde(default, alias = "campaigns")]
    pub topics: Vec<String>,
    /// Known recipients (aliases `devices`, `subscribers`).
    #[serde(default, alias = "devices", alias = "subscribers")]
    pub recipients: Vec<String>,
    /// The active subscriptions.
    #[serde(default)]
    pub subscriptions: Vec<SeedSubscription>,
}

/// An active subscription in a [`Seed`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedSubscription {
    /// Contact id, subscriber id, device token, MSISDN or email address.
    pub recipient: String,
    /// Topic id, topic key, campaign id or subscription id (alias `campaign`).
    #[serde(alias = "campaign")]
    pub topic: String,
}

impl Seed {
    /// An empty seed: every world open until a section is added.
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads a seed from JSON (see the type's docs for the shape).
    pub fn from_json(json: &str) -> Result<Self, Error> {
        serde_json::from_str(json).map_err(|source| Error::Seed { path: None, source })
    }

    /// Reads a seed from a JSON file.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, Error> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| Error::SeedFile {
            path: path.to_owned(),
            source,
        })?;
        serde_json::from_str(&text).map_err(|source| Error::Seed {
            path: Some(path.to_owned()),
            source,
        })
    }

    /// The section of `api`, if its world is closed.
    pub fn get(&self, api: Api) -> Option<&ApiSeed> {
        match api {
            Api::Migma => self.migma.as_ref(),
            Api::Novu => self.novu.as_ref(),
            Api::Pushy => self.pushy.as_ref(),
            Api::Mobivate => self.mobivate.as_ref(),
            Api::HubSpot => self.hubspot.as_ref(),
        }
    }

    fn section(&mut self, api: Api) -> &mut ApiSeed {
        let slot = match api {
            Api::Migma => &mut self.migma,
            Api::Novu => &mut self.novu,
            Api::Pushy => &mut self.pushy,
            Api::Mobivate => &mut self.mobivate,
            Api::HubSpot => &mut self.hubspot,
        };
        slot.get_or_insert_with(ApiSeed::default)
    }

    /// Closes `api`'s world (nothing exists in it yet).
    pub fn close(mut self, api: Api) -> Self {
        self.section(api);
        self
    }

    /// Closes `api`'s world and adds a topic that exists in it.
    pub fn topic(mut self, api: Api, topic: impl Into<String>) -> Self {
        self.section(api).topics.push(topic.into());
        self
    }

    /// Closes `api`'s world and adds a known recipient with no subscription.
    pub fn recipient(mut self, api: Api, recipient: impl Into<String>) -> Self {
        self.section(api).recipients.push(recipient.into());
        self
    }

    /// Closes `api`'s world and adds an active subscription.
    pub fn subscription(
        mut self,
        api: Api,
        recipient: impl Into<String>,
        topic: impl Into<String>,
    ) -> Self {
        self.section(api).subscriptions.push(SeedSubscription {
            recipient: recipient.into(),
            topic: topic.into(),
        });
        self
    }
}

/// All five providers' worlds.
pub(crate) struct World {
    apis: [ApiWorld; 5],
}

impl World {
    pub(crate) fn new(seed: Option<&Seed>) -> Self {
        let apis = Api::ALL.map(|api| ApiWorld::new(api, seed.and_then(|s| s.get(api))));
        Self { apis }
    }

    pub(crate) fn api(&self, api: Api) -> &ApiWorld {
        let [migma, novu, pushy, mobivate, hubspot] = &self.apis;
        match api {
            Api::Migma => migma,
            Api::Novu => novu,
            Api::Pushy => pushy,
            Api::Mobivate => mobivate,
            Api::HubSpot => hubspot,
        }
    }
}

const SHARDS: usize = 16;

/// One recipient's subscriptions: `default_on` for every topic, except those in `exceptions`.
#[derive(Debug, Default)]
struct Subscriptions {
    default_on: bool,
    exceptions: HashSet<String>,
}

impl Subscriptions {
    fn is_on(&self, topic: &str) -> bool {
        self.default_on != self.exceptions.contains(topic)
    }

    fn set(&mut self, topic: &str, on: bool) {
        if on == self.default_on {
            self.exceptions.remove(topic);
        } else if !self.exceptions.contains(topic) {
            self.exceptions.insert(topic.to_owned());
        }
    }
}

/// One provider's world. Recipients are sharded over [`SHARDS`] short-held locks.
pub(crate) struct ApiWorld {
    closed: bool,
    /// Email addresses are compared case-insensitively (HubSpot).
    fold_case: bool,
    /// Closed: the topics that exist. Open: the topics seen so far (for unsubscribe-all).
    topics: RwLock<BTreeSet<String>>,
    /// Closed only: the known recipients.
    recipients: RwLock<HashSet<String>>,
    shards: [Mutex<HashMap<String, Subscriptions>>; SHARDS],
    hasher: RandomState,
}

impl ApiWorld {
    fn new(api: Api, seed: Option<&ApiSeed>) -> Self {
        let world = Self {
            closed: seed.is_some(),
            fold_case: api == Api::HubSpot,
            topics: RwLock::default(),
            recipients: RwLock::default(),
            shards: std::array::from_fn(|_| Mutex::default()),
            hasher: RandomState::new(),
        };
        if let Some(seed) = seed {
            write(&world.topics).extend(seed.topics.iter().cloned());
            for r in &seed.recipients {
                let r = world.norm(r).into_owned();
                write(&world.recipients).insert(r);
            }
            for s in &seed.subscriptions {
                world.subscribe(&s.recipient, &s.topic);
            }
        }
        world
    }

    fn norm<'a>(&self, recipient: &'a str) -> Cow<'a, str> {
        if self.fold_case && recipient.bytes().any(|b| b.is_ascii_uppercase()) {
            Cow::Owned(recipient.to_ascii_lowercase())
        } else {
            Cow::Borrowed(recipient)
        }
    }

    fn shard(&self, recipient: &str) -> MutexGuard<'_, HashMap<String, Subscriptions>> {
        let i = (self.hasher.hash_one(recipient) % SHARDS as u64) as usize;
        self.shards[i]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether `topic` exists: always in an open world.
    pub(crate) fn topic_exists(&self, topic: &str) -> bool {
        !self.closed || read(&self.topics).contains(topic)
    }

    /// Whether `recipient` is known: always in an open world.
    pub(crate) fn recipient_exists(&self, recipient: &str) -> bool {
        !self.closed || read(&self.recipients).contains(self.norm(recipient).as_ref())
    }

    pub(crate) fn is_subscribed(&self, recipient: &str, topic: &str) -> bool {
        if !self.topic_exists(topic) {
            return false;
        }
        let recipient = self.norm(recipient);
        match self.shard(&recipient).get(recipient.as_ref()) {
            Some(subs) => subs.is_on(topic),
            None => !self.closed,
        }
    }

    /// Unsubscribes; returns whether the pair was subscribed.
    pub(crate) fn unsubscribe(&self, recipient: &str, topic: &str) -> bool {
        if !self.closed && !read(&self.topics).contains(topic) {
            write(&self.topics).insert(topic.to_owned());
        }
        let recipient = self.norm(recipient);
        let mut shard = self.shard(&recipient);
        if let Some(subs) = shard.get_mut(recipient.as_ref()) {
            let was = subs.is_on(topic);
            subs.set(topic, false);
            return was;
        }
        if self.closed {
            return false;
        }
        let mut subs = Subscriptions {
            default_on: true,
            exceptions: HashSet::new(),
        };
        subs.set(topic, false);
        shard.insert(recipient.into_owned(), subs);
        true
    }

    /// Unsubscribes from everything; returns the known topics that were subscribed (sorted).
    /// In an open world the known topics are those seen so far.
    pub(crate) fn unsubscribe_all(&self, recipient: &str) -> Vec<String> {
        let topics = read(&self.topics);
        let recipient = self.norm(recipient);
        let mut shard = self.shard(&recipient);
        let changed = match shard.get(recipient.as_ref()) {
            Some(subs) => topics.iter().filter(|t| subs.is_on(t)).cloned().collect(),
            None if self.closed => Vec::new(),
            None => topics.iter().cloned().collect(),
        };
        let off = Subscriptions::default();
        if let Some(subs) = shard.get_mut(recipient.as_ref()) {
            *subs = off;
        } else if !self.closed {
            shard.insert(recipient.into_owned(), off);
        }
        changed
    }

    /// The known topics, sorted: in a closed world those that exist, in an open one those
    /// seen so far.
    pub(crate) fn known_topics(&self) -> Vec<String> {
        read(&self.topics).iter().cloned().collect()
    }

    /// Makes the pair active; in a closed world the topic and recipient now exist.
    pub(crate) fn subscribe(&self, recipient: &str, topic: &str) {
        let recipient = self.norm(recipient);
        if !read(&self.topics).contains(topic) {
            write(&self.topics).insert(topic.to_owned());
        }
        if self.closed && !read(&self.recipients).contains(recipient.as_ref()) {
            write(&self.recipients).insert(recipient.clone().into_owned());
        }
        let mut shard = self.shard(&recipient);
        match shard.get_mut(recipient.as_ref()) {
            Some(subs) => subs.set(topic, true),
            None if self.closed => {
                let mut subs = Subscriptions::default();
                subs.set(topic, true);
                shard.insert(recipient.into_owned(), subs);
            }
            // Open world: a recipient without a record is subscribed to everything already.
            None => {}
        }
    }
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(PoisonError::into_inner)
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_world() {
        let w = ApiWorld::new(Api::HubSpot, None);
        assert!(w.topic_exists("anything") && w.recipient_exists("anyone"));
        assert!(w.is_subscribed("A@x.com", "1"));
        assert!(w.unsubscribe("A@x.com", "1"));
        assert!(
            !w.unsubscribe("a@X.com", "1"),
            "emails fold case at HubSpot"
        );
        assert!(w.is_subscribed("a@x.com", "2"));
        w.subscribe("a@x.com", "1");
        assert!(w.is_subscribed("a@x.com", "1"));
        assert_eq!(w.unsubscribe_all("a@x.com"), vec!["1".to_owned()]);
        assert!(!w.is_subscribed("a@x.com", "2"));
        assert!(w.unsubscribe_all("a@x.com").is_empty());
        w.subscribe("a@x.com", "2");
        assert_eq!(w.unsubscribe_all("a@x.com"), vec!["2".to_owned()]);
    }

    #[test]
    fn closed_world() {
        let seed = Seed::new()
            .subscription(Api::Novu, "u1", "t1")
            .topic(Api::Novu, "t2")
            .recipient(Api::Novu, "u2");
        let w = ApiWorld::new(Api::Novu, seed.get(Api::Novu));
        assert!(w.topic_exists("t1") && w.topic_exists("t2") && !w.topic_exists("t3"));
        assert!(w.recipient_exists("u1") && w.recipient_exists("u2"));
        assert!(!w.recipient_exists("u3"));
        assert!(w.is_subscribed("u1", "t1") && !w.is_subscribed("u1", "t2"));
        assert!(!w.unsubscribe("u2", "t1"));
        assert!(w.unsubscribe("u1", "t1"));
        assert!(!w.unsubscribe("u1", "t1"));
        w.subscribe("u3", "t3");
        assert!(w.recipient_exists("u3") && w.is_subscribed("u3", "t3"));
    }

    #[test]
    fn seed_refuses_typos() {
        assert!(Seed::from_json(r#"{"hubspott":{}}"#).is_err());
        assert!(Seed::from_json(r#"{"hubspot":{"subscriptions":["123"]}}"#).is_err());
        let s = Seed::from_json(r#"{"mobivate":{"campaigns":["c"]}}"#);
        assert_eq!(
            s.ok().and_then(|s| s.mobivate).map(|m| m.topics),
            Some(vec!["c".into()])
        );
    }
}
