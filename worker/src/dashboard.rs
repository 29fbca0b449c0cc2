//! `GET /dashboard`: one self-contained page (HTML, CSS and a small script,
//! nothing loaded from elsewhere) that shows the Worker to an operator and
//! acts through the admin endpoints with the token it is given. Its
//! Content-Security-Policy allows that page's own style and script (by
//! their hashes) and requests to this Worker, nothing else.

use std::cell::OnceCell;

use sha2::{Digest, Sha256};

use crate::encoding;
use crate::outcome::Reply;

const PAGE: &str = include_str!("dashboard/page.html");
const STYLE: &str = include_str!("dashboard/style.css");
const SCRIPT: &str = include_str!("dashboard/app.js");

thread_local! {
    static BUILT: OnceCell<(String, String)> = const { OnceCell::new() };
}

/// `'sha256-<base64>'` of `text`, as a CSP source.
fn hash_source(text: &str) -> String {
    format!("'sha256-{}'", encoding::base64(&Sha256::digest(text.as_bytes())))
}

/// The page and its policy.
fn built() -> (String, String) {
    let page = PAGE.replacen("/*STYLE*/", STYLE, 1).replacen("/*SCRIPT*/", SCRIPT, 1);
    let policy = format!(
        "default-src 'none'; script-src {}; style-src {}; connect-src 'self'; img-src 'self'; \
         base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
        hash_source(SCRIPT),
        hash_source(STYLE)
    );
    (page, policy)
}

/// The dashboard page.
pub fn page() -> Reply {
    let (page, policy) = BUILT.with(|built_once| built_once.get_or_init(built).clone());
    Reply {
        status: 200,
        headers: vec![
            ("Content-Type", "text/html; charset=utf-8".into()),
            ("Content-Security-Policy", policy),
            ("X-Content-Type-Options", "nosniff".into()),
            ("Referrer-Policy", "no-referrer".into()),
            ("Cache-Control", "no-store".into()),
        ],
        body: page.into_bytes(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_inlines_its_style_and_script_and_allows_only_them() {
        let (page, policy) = built();
        assert!(page.contains(SCRIPT) && page.contains(STYLE));
        assert!(!page.contains("/*SCRIPT*/") && !page.contains("/*STYLE*/"));
        // Nothing loads from elsewhere (the SVG namespace is a name, not a load).
        let other = page.replace("\"http://www.w3.org/2000/svg\"", "");
        assert!(!other.contains("http://") && !other.contains("https://"));
        assert!(policy.starts_with("default-src 'none'; script-src 'sha256-"));
        assert!(policy.contains(&hash_source(SCRIPT)) && policy.contains(&hash_source(STYLE)));
        assert!(policy.contains("connect-src 'self'"));
        // A known digest, to check the source's form.
        assert_eq!(hash_source(""), "'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='");
    }
}
