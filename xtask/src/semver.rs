//! Just enough SemVer 2.0: `MAJOR.MINOR.PATCH[-PRE]`, and precedence between two of them.

use std::cmp::Ordering;

/// A parsed `MAJOR.MINOR.PATCH[-PRE]`.
#[derive(Debug, PartialEq, Eq)]
pub struct Version {
    core: [u64; 3],
    pre: Vec<Ident>,
}

#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Ident {
    // Declared first: numeric identifiers sort before alphanumeric ones.
    Num(u64),
    Alpha(String),
}

impl Version {
    /// Parses a release version; the error says what is allowed.
    pub fn parse(s: &str) -> Result<Self, String> {
        let bad = |why: &str| {
            Err(format!("`{s}` is not a version: {why}; expected MAJOR.MINOR.PATCH with an optional -PRE, e.g. 0.2.0 or 1.0.0-rc.1"))
        };
        if s.starts_with('v') {
            return bad("drop the leading `v` (the git tag gets it, the version does not)");
        }
        if s.contains('+') {
            return bad("build metadata (`+...`) is not supported (crates.io ignores it)");
        }
        let (core, pre) = match s.split_once('-') {
            Some((c, p)) => (c, Some(p)),
            None => (s, None),
        };
        let nums: Vec<&str> = core.split('.').collect();
        if nums.len() != 3 {
            return bad("it needs exactly three numbers");
        }
        let mut parsed = [0u64; 3];
        for (slot, n) in parsed.iter_mut().zip(&nums) {
            match numeric(n) {
                Some(v) => *slot = v,
                None => return bad("MAJOR, MINOR and PATCH are numbers without leading zeros"),
            }
        }
        let mut idents = Vec::new();
        if let Some(pre) = pre {
            for id in pre.split('.') {
                if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
                    return bad("PRE is dot-separated identifiers of [0-9A-Za-z-]");
                }
                if id.bytes().all(|b| b.is_ascii_digit()) {
                    match numeric(id) {
                        Some(v) => idents.push(Ident::Num(v)),
                        None => return bad("numeric PRE identifiers have no leading zeros"),
                    }
                } else {
                    idents.push(Ident::Alpha(id.to_owned()));
                }
            }
        }
        Ok(Version {
            core: parsed,
            pre: idents,
        })
    }
}

fn numeric(s: &str) -> Option<u64> {
    let ok =
        !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && (s == "0" || !s.starts_with('0'));
    if ok {
        s.parse().ok()
    } else {
        None
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        self.core
            .cmp(&other.core)
            .then_with(|| match (self.pre.is_empty(), other.pre.is_empty()) {
                (true, true) => Ordering::Equal,
                // A pre-release comes before its release.
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
                (false, false) => self.pre.cmp(&other.pre),
            })
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap()
    }

    #[test]
    fn accepts_releases_and_pre_releases() {
        for ok in [
            "0.1.0",
            "1.0.0",
            "10.20.30",
            "1.0.0-rc.1",
            "1.0.0-alpha-2.0",
            "0.0.0-0",
        ] {
            assert!(Version::parse(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn rejects_everything_else_saying_why() {
        for (bad, why) in [
            ("v0.1.0", "leading `v`"),
            ("0.1", "three numbers"),
            ("0.1.0.1", "three numbers"),
            ("01.1.0", "leading zeros"),
            ("0.x.0", "numbers"),
            ("", "three numbers"),
            ("1.0.0-", "PRE is"),
            ("1.0.0-rc..1", "PRE is"),
            ("1.0.0-rc.01", "leading zeros"),
            ("1.0.0-rc_1", "PRE is"),
            ("1.0.0+build.5", "build metadata"),
        ] {
            let err = Version::parse(bad).unwrap_err();
            assert!(
                err.contains(why) && err.contains("MAJOR.MINOR.PATCH"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn precedence_follows_semver() {
        let chain = [
            "1.0.0-alpha",
            "1.0.0-alpha.1",
            "1.0.0-alpha.beta",
            "1.0.0-beta",
            "1.0.0-beta.2",
            "1.0.0-beta.11",
            "1.0.0-rc.1",
            "1.0.0",
            "1.0.1",
            "1.1.0",
            "2.0.0",
        ];
        for w in chain.windows(2) {
            assert!(v(w[0]) < v(w[1]), "{} < {}", w[0], w[1]);
        }
        assert_eq!(v("0.1.0").cmp(&v("0.1.0")), Ordering::Equal);
    }
}
