//! The HTML pages of `/u/{token}`: small, accessible, no JavaScript, no external resources.

use axum::http::header;
use axum::response::{IntoResponse, Response};
use optout_core::Topics;

use crate::link::Scope;

/// HTML-escapes text for an element or a quoted attribute.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn html(title: &str, main: &str) -> Response {
    let body = format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{title}</title>\n\
         <style>body{{font-family:system-ui,sans-serif;max-width:36rem;margin:2rem auto;padding:0 1rem;line-height:1.5}}\
         button{{font-size:1.1rem;padding:.6rem 1.2rem}}</style>\n</head>\n<body>\n<main>\n{main}</main>\n</body>\n</html>\n",
        title = escape(title),
    );
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response()
}

fn scope_list(scope: &Scope) -> String {
    let mut out = String::from("<ul>\n");
    for t in scope.entries() {
        let what = match &t.topics {
            Topics::All => "all messages".to_string(),
            Topics::Only(ids) => format!("topics: {}", ids.join(", ")),
        };
        out.push_str(&format!(
            "<li><strong>{}</strong> at {}: {}</li>\n",
            escape(&t.recipient.to_string()),
            escape(t.provider.as_str()),
            escape(&what)
        ));
    }
    out.push_str("</ul>\n");
    out
}

/// The page a GET shows: what will be unsubscribed, and a button that POSTs the one-click
/// form to the same URL. Showing it changes nothing.
pub(crate) fn confirm(scope: &Scope) -> Response {
    let main = format!(
        "<h1>Unsubscribe</h1>\n<p>Press the button to unsubscribe:</p>\n{}\
         <form method=\"post\">\n<input type=\"hidden\" name=\"List-Unsubscribe\" value=\"One-Click\">\n\
         <button type=\"submit\" id=\"unsubscribe\">Unsubscribe</button>\n</form>\n",
        scope_list(scope)
    );
    html("Unsubscribe", &main)
}

/// The page after the opt-out was committed.
pub(crate) fn done(scope: &Scope) -> Response {
    let main = format!(
        "<h1>You are unsubscribed</h1>\n<p role=\"status\">Your request is recorded and will be carried out for:</p>\n{}",
        scope_list(scope)
    );
    html("Unsubscribed", &main)
}

/// A page with one message (an invalid link).
pub(crate) fn message(title: &str, text: &str) -> Response {
    html(
        title,
        &format!("<h1>{}</h1>\n<p>{}</p>\n", escape(title), escape(text)),
    )
}
