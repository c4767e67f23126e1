//! How the USL fit weighs its points (`usl_weights`): equally (the reference fit, plain least
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

    /// An analysis stored before the weighting was recorded was made with relative weights.
    pub(crate) fn before_it_was_recorded() -> Self {
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
