//! Following redirects (`follow_redirects`): where a `Location` leads from the request that got
//! it, with which method and body (as browsers, curl and Go do), and a per-runner memory of the
//! hops seen, so that a chain a server repeats item after item is resolved — DNS included — and
//! encoded once, not once per item.

use std::sync::Arc;

use hyper::http::uri::{Authority, PathAndQuery};
use hyper::{Method, Uri};

use super::target::{Origin, Target};
use crate::workload::ItemError;

/// Hops remembered per runner; a server that sends a new Location every time (a session id)
/// clears the memory when it fills instead of growing it.
const MAX_HOPS: usize = 64;

/// A hop seen before: from this request, this status and Location led to that request.
struct Hop {
    from: Arc<Target>,
    status: u16,
    location: String,
    to: Arc<Target>,
}

/// The hops one runner has followed, and the other origins they led to.
#[derive(Default)]
pub(crate) struct Hops {
    hops: Vec<Hop>,
    origins: Vec<Arc<Origin>>,
}

impl Hops {
    /// The request that answering `status` with `location` to `from` leads to.
    pub fn next(
        &mut self,
        from: &Arc<Target>,
        status: u16,
        location: &str,
    ) -> Result<Arc<Target>, ItemError> {
        let seen = self
            .hops
            .iter()
            .find(|h| Arc::ptr_eq(&h.from, from) && h.status == status && h.location == location);
        if let Some(hop) = seen {
            return Ok(hop.to.clone());
        }
        let to = Arc::new(self.resolve(from, status, location)?);
        if self.hops.len() >= MAX_HOPS {
            self.hops.clear();
            self.origins.clear();
        }
        self.hops.push(Hop {
            from: from.clone(),
            status,
            location: location.to_string(),
            to: to.clone(),
        });
        Ok(to)
    }

    fn resolve(&mut self, from: &Target, status: u16, location: &str) -> Result<Target, ItemError> {
        let bad =
            |why: String| ItemError::new("redirect", format!("{status} to '{location}' {why}"));
        let (elsewhere, path) = split(&from.origin, &from.path, location).map_err(bad)?;
        let origin = match elsewhere {
            None => from.origin.clone(),
            Some((https, authority)) => {
                let key = Origin::key_of(https, &authority).map_err(bad)?;
                match self.origins.iter().find(|o| o.key == key) {
                    _ if key == from.origin.key => from.origin.clone(),
                    Some(origin) => origin.clone(),
                    None => {
                        let origin =
                            Origin::new(https, authority.as_str(), &from.settings.connector)
                                .map(Arc::new)
                                .map_err(|why| {
                                    ItemError::new(
                                        "connect",
                                        format!("redirect to '{location}' {why}"),
                                    )
                                })?;
                        self.origins.push(origin.clone());
                        origin
                    }
                }
            }
        };
        let (method, with_body) = method_after(status, &from.method, from.with_body);
        Target::new(origin, method, path, with_body, from.settings.clone()).map_err(bad)
    }
}

/// The method and whether the body follows: 303 turns anything but HEAD into a GET, and 301 and
/// 302 turn a POST into one (what every browser, curl and Go do); 307 and 308 keep both.
pub(crate) fn method_after(status: u16, method: &Method, with_body: bool) -> (Method, bool) {
    let to_get = match status {
        303 => *method != Method::HEAD && *method != Method::GET,
        301 | 302 => *method == Method::POST,
        _ => false,
    };
    match to_get {
        true => (Method::GET, false),
        false => (method.clone(), with_body),
    }
}

/// Where `location` points from `path` on `origin`: another origin (`(https, authority)`) or
/// the same one (`None`), and the path and query there. The fragment is dropped.
fn split(
    origin: &Origin,
    path: &str,
    location: &str,
) -> Result<(Option<(bool, Authority)>, String), String> {
    let location = location.split('#').next().unwrap_or_default();
    let scheme_of = |l: &str| l.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
    let absolute = match location {
        l if l.starts_with("//") => Some(format!(
            "{}:{l}",
            if origin.https { "https" } else { "http" }
        )),
        l if matches!(scheme_of(l).as_deref(), Some("http" | "https")) => Some(l.to_string()),
        _ => None,
    };
    if let Some(url) = absolute {
        let uri: Uri = url.parse().map_err(|e| format!("is not a URL: {e}"))?;
        let https = uri
            .scheme_str()
            .is_some_and(|s| s.eq_ignore_ascii_case("https"));
        let authority = uri.authority().cloned().ok_or("has no host")?;
        let path = uri.path_and_query().map_or("/", |pq| pq.as_str());
        let path = if path.starts_with('/') {
            path.to_string()
        } else {
            format!("/{path}")
        };
        return Ok((Some((https, authority)), path));
    }
    if location.contains("://") || location.starts_with("mailto:") {
        return Err("is not an http:// or https:// URL".into());
    }
    let base = path.split('?').next().unwrap_or("/");
    let joined = if location.starts_with('/') {
        location.to_string()
    } else if location.is_empty() {
        path.to_string()
    } else if location.starts_with('?') {
        format!("{base}{location}")
    } else {
        let dir = &base[..=base.rfind('/').unwrap_or(0)];
        format!("{dir}{location}")
    };
    // Checked as a request target: no space or control byte reaches the request line.
    let checked =
        PathAndQuery::try_from(joined.as_str()).map_err(|e| format!("has a bad path: {e}"))?;
    Ok((None, checked.as_str().to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin(https: bool) -> Origin {
        let config = crate::tls::client_config(&crate::tls::ClientTls::default()).unwrap();
        Origin::new(https, "127.0.0.1:8080", &config.into()).unwrap()
    }

    fn lead(location: &str) -> Result<(Option<(bool, String)>, String), String> {
        split(&origin(false), "/a/b?x=1", location)
            .map(|(o, p)| (o.map(|(https, a)| (https, a.to_string())), p))
    }

    #[test]
    fn locations_resolve_as_a_browser_resolves_them() {
        assert_eq!(lead("/c").unwrap(), (None, "/c".into()));
        assert_eq!(lead("c?y=2#frag").unwrap(), (None, "/a/c?y=2".into()));
        assert_eq!(lead("?y=2").unwrap(), (None, "/a/b?y=2".into()));
        assert_eq!(lead("").unwrap(), (None, "/a/b?x=1".into()));
        assert_eq!(
            lead("https://Example.org:8443/z").unwrap(),
            (Some((true, "Example.org:8443".into())), "/z".into())
        );
        assert_eq!(
            lead("//other.test").unwrap(),
            (Some((false, "other.test".into())), "/".into())
        );
        assert!(lead("ftp://x/").unwrap_err().contains("http"));
        assert!(lead("/a b").unwrap_err().contains("bad path"));
        assert!(lead("/a\r\nX-Injected: 1").is_err());
    }

    #[test]
    fn methods_change_as_clients_change_them() {
        let get = |s, m: Method, b| method_after(s, &m, b);
        assert_eq!(get(301, Method::POST, true), (Method::GET, false));
        assert_eq!(get(302, Method::PUT, true), (Method::PUT, true));
        assert_eq!(get(303, Method::PUT, true), (Method::GET, false));
        assert_eq!(get(303, Method::HEAD, false), (Method::HEAD, false));
        assert_eq!(get(307, Method::POST, true), (Method::POST, true));
        assert_eq!(get(308, Method::DELETE, false), (Method::DELETE, false));
    }
}
