//! Numbers and units as every report, table and explanation writes them: a figure with the
//! precision it needs, a percentage, and the mark for a figure that does not exist. One place, so
//! the console, the markdown summary, the HTML report and the analysis's sentences agree.

/// What a table shows where a figure does not exist (no successful item): never 0.
pub const NO_DATA: &str = "–";

/// A figure, or `NO_DATA` when there is none.
pub fn maybe(x: Option<f64>, show: impl Fn(f64) -> String) -> String {
    x.map(show).unwrap_or_else(|| NO_DATA.to_string())
}

/// A percentage with the precision it needs: 0, 1, 0.25, 3.1, 42, 99.6. A share that is not
/// all or nothing never reads as 100 or 0: "100 % of items failed" when some succeeded would
/// be false.
pub fn percent(x: f64) -> String {
    if x.fract() == 0.0 {
        format!("{x:.0}")
    } else if x > 0.0 && x < 0.005 {
        "<0.01".to_string()
    } else if x < 1.0 {
        format!("{x:.2}")
    } else if x < 10.0 {
        format!("{x:.1}")
    } else if x < 99.0 {
        format!("{x:.0}")
    } else if x < 99.95 {
        format!("{x:.1}")
    } else if x < 100.0 {
        ">99.9".to_string()
    } else {
        format!("{x:.0}")
    }
}

/// Three significant figures, without scientific notation.
pub fn number(x: f64) -> String {
    let a = x.abs();
    if a >= 100.0 || a == 0.0 {
        format!("{x:.0}")
    } else if a >= 10.0 {
        format!("{x:.1}")
    } else if a >= 1.0 {
        format!("{x:.2}")
    } else {
        format!("{x:.3}")
    }
}

/// A rate as given: whole numbers without decimals (`200`), others to three figures.
pub fn rate(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{x:.0}")
    } else {
        number(x)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_keep_three_figures() {
        assert_eq!(number(1234.5), "1234");
        assert_eq!(number(12.345), "12.3");
        assert_eq!(number(1.2345), "1.23");
        assert_eq!(number(0.012345), "0.012");
        assert_eq!(number(0.0), "0");
    }

    #[test]
    fn percentages_keep_what_matters() {
        assert_eq!(percent(0.0), "0");
        assert_eq!(percent(1.0), "1");
        assert_eq!(percent(0.25), "0.25");
        assert_eq!(percent(3.04), "3.0");
        assert_eq!(percent(96.4), "96");
        assert_eq!(percent(99.5), "99.5");
        assert_eq!(percent(99.98), ">99.9");
        assert_eq!(percent(0.001), "<0.01");
        assert_eq!(percent(100.0), "100");
    }
}
