//! `--rate` of `optout worker` and `optout serve`: the rate limit of every provider's client, or
//! of one provider's (`hubspot=190/10s`), and the store that shares it between processes.

use std::sync::Arc;

use optout::{Overrides, Provider, RateLimit, RateShare};

/// The help text of `--rate` on `worker` and `serve`.
pub const HELP: &str = "At most N requests per PERIOD to each provider account (e.g. 190/10s, \
    800/min), shared by every request of this process and, with a PostgreSQL store, by every \
    worker of that store; PROVIDER=N/PERIOD for one provider only (repeatable) [default: each \
    provider's published limit against its own API]";

/// `--rate` values: one for every provider, and per-provider ones that win over it.
#[derive(Debug, Clone, Default)]
pub struct Rates {
    every: Option<RateLimit>,
    each: Vec<(Provider, RateLimit)>,
}

/// One `--rate` value: `N/PERIOD` or `PROVIDER=N/PERIOD`.
#[derive(Debug, Clone)]
pub struct RateArg(Option<Provider>, RateLimit);

/// Parses `N/PERIOD` or `PROVIDER=N/PERIOD`.
pub fn parse(s: &str) -> Result<RateArg, String> {
    let (provider, limit) = match s.split_once('=') {
        Some((p, limit)) => (
            Some(p.trim().parse::<Provider>().map_err(|_| {
                format!(
                    "{:?} is not a provider; use one of {}",
                    p.trim(),
                    Provider::ALL.map(Provider::as_str).join(", ")
                )
            })?),
            limit,
        ),
        None => (None, s),
    };
    Ok(RateArg(provider, crate::parse_rate(limit)?))
}

impl Rates {
    /// The values given, later ones winning.
    pub fn new(args: &[RateArg]) -> Rates {
        let mut rates = Rates::default();
        for RateArg(provider, limit) in args {
            match provider {
                Some(p) => rates.each.push((*p, *limit)),
                None => rates.every = Some(*limit),
            }
        }
        rates
    }

    /// The overrides for `provider`'s client: its limit, and `share` when there is one.
    pub fn apply(
        &self,
        provider: Provider,
        overrides: &Overrides,
        share: Option<&Arc<dyn RateShare>>,
    ) -> Overrides {
        let mut o = overrides.clone();
        let own = self.each.iter().rev().find(|(p, _)| *p == provider);
        if let Some(limit) = own.map(|(_, l)| *l).or(self.every) {
            o.rate_limit = Some(limit);
        }
        o.rate_share = share.cloned();
        o
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_limit_for_all_or_one_per_provider() {
        let args: Vec<RateArg> = ["5/s", "hubspot=190/10s", "HubSpot=100/10s"]
            .iter()
            .map(|s| parse(s).unwrap())
            .collect();
        let rates = Rates::new(&args);
        let limit = |p| rates.apply(p, &Overrides::new(), None).rate_limit;
        assert_eq!(limit(Provider::HubSpot), Some("100/10s".parse().unwrap()));
        assert_eq!(limit(Provider::Pushy), Some("5/s".parse().unwrap()));
        assert_eq!(
            Rates::default()
                .apply(Provider::Pushy, &Overrides::new(), None)
                .rate_limit,
            None
        );
        assert!(parse("gmail=5/s").unwrap_err().contains("not a provider"));
        assert!(parse("hubspot=5").is_err());
        assert!(parse("0/s").is_err());
    }
}
