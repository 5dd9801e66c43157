//! The page's files, compiled into the binary: no build step, no CDN, works offline.

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

pub(super) const INDEX_HTML: &str = include_str!("assets/index.html");
pub(super) const APP_JS: &str = include_str!("assets/app.js");
pub(super) const PANELS_JS: &str = include_str!("assets/panels.js");
pub(super) const STYLE_CSS: &str = include_str!("assets/style.css");
pub(super) const DERIVATION_HTML: &str = include_str!("assets/derivation.html");
pub(super) const DERIVATION_JS: &str = include_str!("assets/derivation.js");
pub(super) const DERIVATION_MD: &str = include_str!("../../../docs/derivation.md");

/// A static file with a strict content security policy (everything from this server).
pub(super) fn page(body: &'static str, kind: &'static str) -> Response {
    let mut r = body.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("default-src 'self'; img-src 'self' data:"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    r
}
