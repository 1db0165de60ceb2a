//! [`Scope`]: who opts out of what, and its canonical, length-prefixed payload encoding (the
//! bytes a token signs).

use std::time::{SystemTime, UNIX_EPOCH};

use optout_core::{Error, Provider, Recipient, Topics};

use crate::intake::{recipient_parts, Target};

/// Who opts out of what: one [`Target`] per provider, and the time the link was issued (which
/// tells two mails' links apart: each is its own opt-out).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    entries: Vec<Target>,
    issued_at: u64,
}

impl Scope {
    /// `recipient` opts out of `topics` at `provider`, issued now.
    ///
    /// The recipient must be the kind the provider takes (as
    /// [`Recipient::for_provider`] makes it); [`Topics::All`] only for Pushy and HubSpot;
    /// topic ids non-empty, printable, repeats dropped.
    pub fn new(provider: Provider, recipient: Recipient, topics: Topics) -> Result<Self, Error> {
        let issued_at = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let mut scope = Scope {
            entries: Vec::new(),
            issued_at,
        };
        scope.push(provider, recipient, topics)?;
        Ok(scope)
    }

    /// Adds another provider to the same link (one click opts out at each).
    pub fn and(
        mut self,
        provider: Provider,
        recipient: Recipient,
        topics: Topics,
    ) -> Result<Self, Error> {
        self.push(provider, recipient, topics)?;
        Ok(self)
    }

    /// Sets the issue time (seconds since the Unix epoch); [`Scope::new`] uses now.
    pub fn issued_at(mut self, secs: u64) -> Self {
        self.issued_at = secs;
        self
    }

    /// The issue time, in seconds since the Unix epoch.
    pub fn issued_at_secs(&self) -> u64 {
        self.issued_at
    }

    /// One entry per provider, in the order they were added.
    pub fn entries(&self) -> &[Target] {
        &self.entries
    }

    fn push(
        &mut self,
        provider: Provider,
        recipient: Recipient,
        topics: Topics,
    ) -> Result<(), Error> {
        if self.entries.iter().any(|e| e.provider == provider) {
            return Err(Error::invalid_input(
                "provider",
                format!("{provider} appears twice in one link"),
            ));
        }
        let target = Target::new(provider, recipient, topics)?;
        self.entries.push(target);
        Ok(())
    }

    /// The canonical payload: length-prefixed fields (`LEN:BYTES`): the issue time, the number
    /// of entries, then per entry the provider, the recipient's value, its Novu identifier
    /// (empty for none), and `all` or the number of topics followed by the topics.
    pub(super) fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64);
        field(&mut out, self.issued_at.to_string().as_bytes());
        field(&mut out, self.entries.len().to_string().as_bytes());
        for entry in &self.entries {
            let (value, identifier) = recipient_parts(&entry.recipient);
            field(&mut out, entry.provider.as_str().as_bytes());
            field(&mut out, value.as_bytes());
            field(&mut out, identifier.unwrap_or("").as_bytes());
            match &entry.topics {
                Topics::All => field(&mut out, b"all"),
                Topics::Only(ids) => {
                    field(&mut out, ids.len().to_string().as_bytes());
                    for id in ids {
                        field(&mut out, id.as_bytes());
                    }
                }
            }
        }
        out
    }

    /// The inverse of [`encode`](Self::encode), checked through the same constructors; `None`
    /// unless the payload is exactly what `encode` writes for what it decodes to.
    pub(super) fn decode(payload: &[u8]) -> Option<Scope> {
        let mut r = Reader(payload);
        let issued_at = number(r.field()?)?;
        let count = number(r.field()?)?;
        if count == 0 || count > Provider::ALL.len() as u64 {
            return None;
        }
        let mut scope: Option<Scope> = None;
        for _ in 0..count {
            let provider: Provider = utf8(r.field()?)?.parse().ok()?;
            let value = utf8(r.field()?)?;
            let identifier = utf8(r.field()?)?;
            let identifier = (!identifier.is_empty()).then_some(identifier);
            let recipient = Recipient::for_provider(provider, value, identifier).ok()?;
            let mode = r.field()?;
            let topics = if mode == b"all" {
                Topics::All
            } else {
                let n = number(mode)?;
                // Each topic takes at least 3 bytes ("1:x"); a count the payload cannot hold is
                // refused before anything is allocated for it.
                if n == 0 || n > (r.0.len() / 3) as u64 {
                    return None;
                }
                let mut ids = Vec::with_capacity(n as usize);
                for _ in 0..n {
                    ids.push(utf8(r.field()?)?.to_string());
                }
                Topics::Only(ids)
            };
            scope = Some(match scope {
                None => {
                    let mut s = Scope {
                        entries: Vec::new(),
                        issued_at,
                    };
                    s.push(provider, recipient, topics).ok()?;
                    s
                }
                Some(s) => s.and(provider, recipient, topics).ok()?,
            });
        }
        let scope = scope?;
        (r.0.is_empty() && scope.encode() == payload).then_some(scope)
    }
}

fn field(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(bytes.len().to_string().as_bytes());
    out.push(b':');
    out.extend_from_slice(bytes);
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn field(&mut self) -> Option<&'a [u8]> {
        let colon = self.0.iter().take(5).position(|&b| b == b':')?;
        let len = usize::try_from(number(&self.0[..colon])?).ok()?;
        let rest = &self.0[colon + 1..];
        if rest.len() < len {
            return None;
        }
        let (value, rest) = rest.split_at(len);
        self.0 = rest;
        Some(value)
    }
}

/// A canonical decimal: digits only, no leading zero (except `0` itself), fits a u64.
fn number(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || digits.len() > 20 || (digits[0] == b'0' && digits.len() > 1) {
        return None;
    }
    if !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

fn utf8(bytes: &[u8]) -> Option<&str> {
    std::str::from_utf8(bytes).ok()
}
