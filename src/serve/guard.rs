//! Who may use the workbench: requests addressed to this server by its own name (no DNS
//! rebinding), from its own pages (no cross-site request from another page the reader has
//! open), and, for the API, carrying the random token the server printed; bodies of bounded size.

use axum::http::HeaderMap;

/// The largest request body read: an answer file (at most 1 MiB) with its JSON escaping.
pub const MAX_BODY: usize = 3 * 1024 * 1024;

/// The header the pages send the token in: a custom header, which no cross-site form can send
/// and which makes a cross-site `fetch` ask a preflight this server never grants.
pub const TOKEN_HEADER: &str = "X-Labs-Token";

/// Why a request is refused (its status and an English reason), or none.
pub fn refusal(headers: &HeaderMap, port: u16, token: &str, api: bool) -> Option<(u16, String)> {
    let header = |name: &str| {
        headers
            .get(name)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
    };
    let own_hosts = [format!("127.0.0.1:{port}"), format!("localhost:{port}")];
    let host = header("Host").unwrap_or_default();
    if !own_hosts.iter().any(|h| h.eq_ignore_ascii_case(&host)) {
        return Some((
            403,
            format!("refused: the Host `{host}` is not this server's"),
        ));
    }
    if let Some(origin) = header("Origin") {
        if !own_hosts
            .iter()
            .any(|h| origin.eq_ignore_ascii_case(&format!("http://{h}")))
        {
            return Some((
                403,
                format!("refused: the Origin `{origin}` is not this server's"),
            ));
        }
    }
    if let Some(site) = header("Sec-Fetch-Site") {
        if !matches!(site.as_str(), "same-origin" | "none") {
            return Some((403, format!("refused: a {site} request")));
        }
    }
    if api {
        let given = header(TOKEN_HEADER).unwrap_or_default();
        if !same(given.as_bytes(), token.as_bytes()) {
            return Some((403, "refused: no valid token".to_string()));
        }
    }
    let length = header("Content-Length").and_then(|n| n.parse::<usize>().ok());
    if length.is_some_and(|n| n > MAX_BODY) {
        return Some((413, format!("refused: a body over {MAX_BODY} bytes")));
    }
    None
}

/// Whether two byte strings are equal, in a time that does not depend on where they differ.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::same;

    #[test]
    fn tokens_compare_whole() {
        assert!(same(b"abc", b"abc"));
        assert!(!same(b"abc", b"abd"));
        assert!(!same(b"abc", b"ab"));
        assert!(!same(b"", b"a"));
    }
}
