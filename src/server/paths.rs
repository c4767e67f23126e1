//! What the built-in server answers at a path: the ok answer, a redirect (`/redirect/N`,
//! `/redirect/loop`) or a chosen status (`/status/CODE`), so that a client's redirect and status
//! handling can be tested against it.

use hyper::header::HeaderValue;
use hyper::StatusCode;

/// What a request's path asks for.
#[derive(Debug, PartialEq)]
pub(super) enum Path {
    /// The ok answer (with the configured body).
    Ok,
    /// A redirect with this status to this Location.
    Redirect(StatusCode, HeaderValue),
    /// An answer with this status.
    Status(StatusCode),
}

impl Path {
    pub(super) fn of(path: &str) -> Path {
        if let Some(n) = path.strip_prefix("/redirect/") {
            if n == "loop" {
                return Path::Redirect(
                    StatusCode::FOUND,
                    HeaderValue::from_static("/redirect/loop"),
                );
            }
            return match n.parse::<u32>() {
                Ok(0) | Err(_) => Path::Ok,
                Ok(1) => {
                    Path::Redirect(StatusCode::MOVED_PERMANENTLY, HeaderValue::from_static("/"))
                }
                Ok(n) => Path::Redirect(
                    StatusCode::MOVED_PERMANENTLY,
                    HeaderValue::from_str(&format!("/redirect/{}", n - 1))
                        .unwrap_or(HeaderValue::from_static("/")),
                ),
            };
        }
        if let Some(code) = path.strip_prefix("/status/") {
            // 1xx are not final answers: hyper cannot send one as such.
            return match code.parse::<u16>().ok().filter(|c| (200..=599).contains(c)) {
                Some(code) => StatusCode::from_u16(code).map_or(Path::Ok, Path::Status),
                None => Path::Status(StatusCode::BAD_REQUEST),
            };
        }
        Path::Ok
    }
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_choose_redirects_and_statuses() {
        let moved = |to: &'static str| {
            Path::Redirect(StatusCode::MOVED_PERMANENTLY, HeaderValue::from_static(to))
        };
        assert_eq!(Path::of("/"), Path::Ok);
        assert_eq!(Path::of("/anything"), Path::Ok);
        assert_eq!(Path::of("/redirect/3"), moved("/redirect/2"));
        assert_eq!(Path::of("/redirect/1"), moved("/"));
        assert_eq!(Path::of("/redirect/0"), Path::Ok);
        assert_eq!(
            Path::of("/redirect/loop"),
            Path::Redirect(
                StatusCode::FOUND,
                HeaderValue::from_static("/redirect/loop")
            )
        );
        assert_eq!(Path::of("/status/404"), Path::Status(StatusCode::NOT_FOUND));
        assert_eq!(
            Path::of("/status/301"),
            Path::Status(StatusCode::MOVED_PERMANENTLY)
        );
        assert_eq!(
            Path::of("/status/99"),
            Path::Status(StatusCode::BAD_REQUEST)
        );
        assert_eq!(
            Path::of("/status/abc"),
            Path::Status(StatusCode::BAD_REQUEST)
        );
    }
}
