//! [`Topics`]: what to unsubscribe from, some topics or all.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// What to unsubscribe from: some topics, or everything the provider lets us name at once.
///
/// Serialized as a JSON array of ids, or the string `"all"`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Topics {
    /// These topics (ids, keys, campaign ids or subscription ids, as the provider names them).
    Only(Vec<String>),
    /// Every topic. Only Pushy (`["*"]`) and HubSpot (unsubscribe-all) can do this in one call.
    All,
}

impl Topics {
    /// One topic.
    pub fn one(id: impl Into<String>) -> Self {
        Topics::Only(vec![id.into()])
    }

    /// Several topics.
    pub fn only<I, S>(ids: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Topics::Only(ids.into_iter().map(Into::into).collect())
    }

    /// The ids, or `None` for [`Topics::All`].
    pub fn ids(&self) -> Option<&[String]> {
        match self {
            Topics::Only(ids) => Some(ids),
            Topics::All => None,
        }
    }
}

impl fmt::Display for Topics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Topics::All => f.write_str("all"),
            Topics::Only(ids) => f.write_str(&ids.join(",")),
        }
    }
}

impl Serialize for Topics {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Topics::Only(ids) => ids.serialize(s),
            Topics::All => s.serialize_str("all"),
        }
    }
}

impl<'de> Deserialize<'de> for Topics {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Repr {
            Only(Vec<String>),
            All(String),
        }
        match Repr::deserialize(d)? {
            Repr::Only(ids) => Ok(Topics::Only(ids)),
            Repr::All(s) if s == "all" => Ok(Topics::All),
            Repr::All(s) => Err(serde::de::Error::custom(format!(
                "expected a list of topics or \"all\", got {s:?}"
            ))),
        }
    }
}
