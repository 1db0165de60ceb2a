//! What the command line prints: one line for people, or JSON for scripts.
//!
//! Nothing here panics on a closed pipe (`optout bulk ... 2>&1 | head -1`): every line is
//! written and a failed write ignored, so that a diagnostic never stops the sending.

use std::io::Write;

use optout::bulk::Summary;
use optout::{Error, Receipt};

/// Writes `line` to stdout; a closed or full stdout is ignored.
pub fn out(line: impl std::fmt::Display) {
    let _ = writeln!(std::io::stdout().lock(), "{line}");
}

/// Writes `line` to stderr; a closed stderr is ignored.
pub fn diag(line: impl std::fmt::Display) {
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

/// A receipt: one line on stdout, or its JSON.
pub fn receipt(receipt: &Receipt, json: bool) {
    if json {
        out(to_json(receipt));
        return;
    }
    out(receipt);
}

/// An error: one clear line on stderr; with `json`, also its JSON on stdout.
pub fn error(error: &Error, json: bool) {
    if json {
        out(to_json(error));
    }
    diag(format_args!("optout: error: {error}"));
}

/// The bulk summary: `N unsubscribed, N already, N failed` on stdout, or its JSON (with the
/// per-call latency). In text, the latency goes to stderr: the stdout line is the contract.
pub fn summary(summary: &Summary, json: bool) {
    if json {
        out(to_json(summary));
    } else {
        out(summary);
        diag(format_args!(
            "optout: {} rows read from {} lines of input (the header included)",
            summary.rows, summary.lines
        ));
        if summary.latency.calls > 0 {
            diag(format_args!("optout: {}", summary.latency));
        }
    }
}

/// `value` as one line of JSON.
pub fn to_json<T: serde::Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string(value)
        .unwrap_or_else(|e| format!("{{\"error\":\"cannot encode JSON: {e}\"}}"))
}

/// Pads `rows` into columns under `header`.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        padded.join("  ").trim_end().to_string()
    };
    let mut out = line(header.to_vec());
    out.push('\n');
    out.push_str(&line(
        widths
            .iter()
            .map(|w| "-".repeat(*w))
            .collect::<Vec<_>>()
            .iter()
            .map(String::as_str)
            .collect(),
    ));
    for row in rows {
        out.push('\n');
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out
}
