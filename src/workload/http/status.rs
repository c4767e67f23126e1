//! The answer statuses that count as success (`ok_status`): a list of codes and ranges such as
//! `200-299,301,404`, held as a bit set so that judging an answer is one lookup, whatever the
//! list's length.

use std::fmt;

/// Status codes are three digits.
const LOWEST: u16 = 100;
const HIGHEST: u16 = 999;

/// A set of status codes.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct StatusSet {
    bits: [u64; 16],
}

impl StatusSet {
    /// 2xx: what a load tester counts as success unless told otherwise.
    pub fn success() -> StatusSet {
        let mut set = StatusSet { bits: [0; 16] };
        (200..=299).for_each(|s| set.insert(s));
        set
    }

    fn insert(&mut self, status: u16) {
        self.bits[usize::from(status / 64)] |= 1 << (status % 64);
    }

    #[inline]
    pub fn contains(&self, status: u16) -> bool {
        status <= HIGHEST && self.bits[usize::from(status / 64)] & (1 << (status % 64)) != 0
    }

    /// Reads `200-299,301, 404`; the message says what is wrong with the first bad part.
    pub fn parse(text: &str) -> Result<StatusSet, String> {
        let mut set = StatusSet { bits: [0; 16] };
        let parts: Vec<&str> = text
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .collect();
        if parts.is_empty() {
            return Err("is empty; give statuses and ranges such as \"200-299,301\"".into());
        }
        for part in parts {
            let (low, high) = match part.split_once('-') {
                Some((low, high)) => (code(low, part)?, code(high, part)?),
                None => {
                    let c = code(part, part)?;
                    (c, c)
                }
            };
            if low > high {
                return Err(format!("has a range that runs backwards ('{part}')"));
            }
            (low..=high).for_each(|s| set.insert(s));
        }
        Ok(set)
    }
}

fn code(text: &str, part: &str) -> Result<u16, String> {
    text.trim()
        .parse::<u16>()
        .ok()
        .filter(|c| (LOWEST..=HIGHEST).contains(c))
        .ok_or_else(|| {
            format!(
                "has '{part}', which is not a status ({LOWEST}-{HIGHEST}) or a range of them \
                 such as 200-299"
            )
        })
}

impl fmt::Debug for StatusSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let codes: Vec<u16> = (LOWEST..=HIGHEST).filter(|s| self.contains(*s)).collect();
        write!(f, "StatusSet({} codes)", codes.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_and_ranges_are_read() {
        let set = StatusSet::parse("200-299, 301,404").unwrap();
        for yes in [200, 250, 299, 301, 404] {
            assert!(set.contains(yes), "{yes}");
        }
        for no in [0, 199, 300, 302, 403, 503, 1000, u16::MAX] {
            assert!(!set.contains(no), "{no}");
        }
        assert_eq!(StatusSet::parse("200-299").unwrap(), StatusSet::success());
    }

    #[test]
    fn malformed_lists_say_what_is_wrong() {
        for (bad, says) in [
            ("", "empty"),
            (" , ", "empty"),
            ("200-", "'200-'"),
            ("2xx", "'2xx'"),
            ("99", "'99'"),
            ("1000", "'1000'"),
            ("299-200", "backwards"),
            ("200-299-300", "'200-299-300'"),
        ] {
            let err = StatusSet::parse(bad).unwrap_err();
            assert!(err.contains(says), "{bad}: {err}");
        }
    }
}
