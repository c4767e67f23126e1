//! How the least-squares fit weighs its points: equally (the reference fit, plain least
//! squares of throughput) or relatively (each point by 1/X², for noise that grows with
//! throughput), and how reports name the choice.

use serde::{Deserialize, Serialize};

/// How the least-squares fit weighs its points.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum FitWeights {
    /// Every point the same: plain least squares of throughput, the reference fit.
    #[default]
    Equal,
    /// Each point by 1/X²: relative residuals, so the low throttles count as much as the high.
    Relative,
}

impl FitWeights {
    /// What a report says about the fit it shows.
    pub fn describe(self) -> &'static str {
        match self {
            FitWeights::Equal => "least squares, equal weights",
            FitWeights::Relative => "least squares, relative weights 1/X²",
        }
    }

    pub(super) fn weight(self, throughput: f64) -> f64 {
        match self {
            FitWeights::Equal => 1.0,
            FitWeights::Relative => 1.0 / (throughput * throughput),
        }
    }

    /// An analysis stored before the weighting was recorded was made with relative weights.
    pub(super) fn before_it_was_recorded() -> Self {
        FitWeights::Relative
    }
}

impl std::fmt::Display for FitWeights {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            FitWeights::Equal => "equal",
            FitWeights::Relative => "relative",
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::analysis::scaling::{FitWeights, Scaling};

    #[test]
    fn old_analyses_read_as_relative_weights_without_intervals() {
        let old = r#"{"optimum":9,"predicted_peak_per_s":264.0,"ceiling_per_s":null,"residual_pct":13.0,"points":7}"#;
        let s: Scaling = serde_json::from_str(old).unwrap();
        assert_eq!(s.weights, FitWeights::Relative);
        assert!(s.intervals.is_none() && s.left_out.is_empty());
    }
}
