//! What each weighting makes of a point in the least-squares fit. The choice itself is a setting
//! of the spec (`FitWeights`).

use crate::spec::FitWeights;

impl FitWeights {
    pub(super) fn weight(self, throughput: f64) -> f64 {
        match self {
            FitWeights::Equal => 1.0,
            FitWeights::Relative => 1.0 / (throughput * throughput),
        }
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
