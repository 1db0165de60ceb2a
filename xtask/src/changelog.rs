//! CHANGELOG.md: turn `## Unreleased` into a dated release section (pure text edit), and
//! today's date without a date crate.

use std::time::{SystemTime, UNIX_EPOCH};

const NEW_FILE: &str = "# Changelog\n\nAll notable changes to the optout crates are documented in this file.\n\n## Unreleased\n";

/// The result of [`release`].
#[derive(Debug, PartialEq)]
pub struct Released {
    /// The new CHANGELOG.md.
    pub text: String,
    /// How many non-blank lines moved from `## Unreleased` to the release section.
    pub moved: usize,
}

/// Moves the content of `## Unreleased` (or `## [Unreleased]`) under a new
/// `## <version> - <date>` heading placed right after it, leaving an empty `## Unreleased`.
/// Without an Unreleased section, both headings are inserted before the first `## ` heading
/// (or at the end). `existing` is None when there is no CHANGELOG.md yet. Errors if the
/// version already has a section. Lines outside the Unreleased section are kept byte for byte.
pub fn release(existing: Option<&str>, version: &str, date: &str) -> Result<Released, String> {
    let text = existing.unwrap_or(NEW_FILE);
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let headings = level2_headings(&lines);

    if let Some(&i) = headings.iter().find(|&&i| names_version(lines[i], version)) {
        return Err(format!(
            "CHANGELOG.md already has a section for {version} (line {}: {:?})",
            i + 1,
            lines[i].trim_end()
        ));
    }

    let unreleased = headings.iter().position(|&i| is_unreleased(lines[i]));
    let mut out = String::with_capacity(text.len() + 64);
    let (before, body, after, bracketed) = match unreleased {
        Some(h) => {
            let start = headings[h];
            let end = headings.get(h + 1).copied().unwrap_or(lines.len());
            let bracketed = lines[start].contains('[');
            (
                &lines[..=start],
                &lines[start + 1..end],
                &lines[end..],
                bracketed,
            )
        }
        None => {
            let at = headings.first().copied().unwrap_or(lines.len());
            (&lines[..at], &lines[at..at], &lines[at..], false)
        }
    };

    before.iter().for_each(|l| out.push_str(l));
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    if unreleased.is_none() {
        if !out.is_empty() && !out.ends_with("\n\n") {
            out.push('\n');
        }
        out.push_str("## Unreleased\n");
    }
    let heading = if bracketed {
        format!("## [{version}] - {date}\n")
    } else {
        format!("## {version} - {date}\n")
    };
    out.push('\n');
    out.push_str(&heading);

    // The body without its leading and trailing blank lines, then one blank line.
    let first = body.iter().position(|l| !l.trim().is_empty());
    let last = body.iter().rposition(|l| !l.trim().is_empty());
    let mut moved = 0;
    if let (Some(first), Some(last)) = (first, last) {
        out.push('\n');
        for l in &body[first..=last] {
            out.push_str(l);
            moved += usize::from(!l.trim().is_empty());
        }
        if !out.ends_with('\n') {
            out.push('\n');
        }
    }
    if !after.is_empty() {
        out.push('\n');
    }
    after.iter().for_each(|l| out.push_str(l));
    Ok(Released { text: out, moved })
}

/// Indices of `## ` heading lines, outside fenced code blocks.
fn level2_headings(lines: &[&str]) -> Vec<usize> {
    let mut in_fence = false;
    let mut out = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        if l.trim_start().starts_with("```") {
            in_fence = !in_fence;
        } else if !in_fence && l.starts_with("## ") {
            out.push(i);
        }
    }
    out
}

fn heading_title(line: &str) -> &str {
    line.trim_start_matches("## ").trim()
}

fn is_unreleased(line: &str) -> bool {
    let t = heading_title(line).trim_start_matches('[');
    t.get(..10)
        .is_some_and(|w| w.eq_ignore_ascii_case("unreleased"))
}

fn names_version(line: &str, version: &str) -> bool {
    let t = heading_title(line).trim_start_matches(['[', 'v']);
    t.strip_prefix(version)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', ']']))
}

/// Today's date (UTC) as YYYY-MM-DD.
pub fn today() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (y, m, d) = civil_from_days((secs / 86_400) as i64);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian
/// (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moves_unreleased_under_a_dated_heading() {
        let before = "# Changelog\n\nIntro.\n\n## Unreleased\n\n### Added\n- `optout-cli`.\n\n## 0.1.0 - 2026-01-02\n\n- First.\n";
        let got = release(Some(before), "0.2.0", "2026-11-23").unwrap();
        assert_eq!(
            got.text,
            "# Changelog\n\nIntro.\n\n## Unreleased\n\n## 0.2.0 - 2026-11-23\n\n### Added\n- `optout-cli`.\n\n## 0.1.0 - 2026-01-02\n\n- First.\n"
        );
        assert_eq!(got.moved, 2);
    }

    #[test]
    fn creates_the_file_when_missing() {
        let got = release(None, "0.1.0", "2026-11-23").unwrap();
        assert_eq!(got.text, format!("{NEW_FILE}\n## 0.1.0 - 2026-11-23\n"));
        assert_eq!(got.moved, 0);
    }

    #[test]
    fn keep_a_changelog_brackets_and_last_section() {
        let before = "## [Unreleased]\n- Fix.";
        let got = release(Some(before), "1.0.0-rc.1", "2026-11-23").unwrap();
        assert_eq!(
            got.text,
            "## [Unreleased]\n\n## [1.0.0-rc.1] - 2026-11-23\n\n- Fix.\n"
        );
    }

    #[test]
    fn without_unreleased_inserts_both_headings_before_the_first_release() {
        let before = "# Changelog\n\n## 0.1.0 - 2026-01-02\n- First.\n";
        let got = release(Some(before), "0.1.1", "2026-11-23").unwrap();
        assert_eq!(got.text, "# Changelog\n\n## Unreleased\n\n## 0.1.1 - 2026-11-23\n\n## 0.1.0 - 2026-01-02\n- First.\n");
    }

    #[test]
    fn refuses_a_version_that_already_has_a_section() {
        let before = "## Unreleased\n\n## 0.2.0 - 2026-01-02\n";
        let err = release(Some(before), "0.2.0", "2026-11-23").unwrap_err();
        assert!(
            err.contains("already has a section for 0.2.0 (line 3"),
            "{err}"
        );
        // 0.2.0 is not 0.2.0-rc.1, nor 0.2.00.
        assert!(release(Some("## [0.2.0-rc.1]\n## 0.2.00\n"), "0.2.0", "d").is_ok());
    }

    #[test]
    fn headings_in_code_fences_are_not_sections() {
        let before = "## Unreleased\n- Run:\n```sh\n## Unreleased\n```\n";
        let got = release(Some(before), "0.2.0", "D").unwrap();
        assert_eq!(
            got.text,
            "## Unreleased\n\n## 0.2.0 - D\n\n- Run:\n```sh\n## Unreleased\n```\n"
        );
    }

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(20_415), (2025, 11, 23));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(today().len(), 10);
    }
}
