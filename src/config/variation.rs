//! The arch file's `[variation]` section: how far real devices depart from the nominal MTJ
//! of `[device]`, from one device to the next (drawn once per MTJ or per string) and from
//! one pulse to the next. Every spread is 0 by default: every MTJ is the nominal one.

use serde::{Deserialize, Serialize};

use super::device::{Check, key_err, num};

/// The shape of every spread.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Distribution {
    /// `nominal · exp(σ z − σ²/2)` with `σ² = ln(1 + s²)`: mean the nominal value, standard
    /// deviation `s` times it, never negative.
    Lognormal,
    /// `nominal · (1 + s z)`.
    Normal,
}

/// Largest |z| of a draw: z is a standard normal truncated to [−4, 4] (and, for `normal`,
/// to `|s z| <= 0.9`, so that no parameter falls below a tenth of its nominal value).
pub const TRUNCATE_Z: f64 = 4.0;

/// Largest `|s z|` of a `normal` draw.
pub const NORMAL_MAX_DEVIATION: f64 = 0.9;

/// The `[variation]` section. Spreads are relative standard deviations (0.05 = 5 %).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VariationConfig {
    /// Shape of every spread.
    pub distribution: Distribution,
    /// Device-to-device spread of the thermal stability factor Δ, per MTJ.
    pub delta: f64,
    /// Device-to-device spread of the critical current I_c0, per MTJ.
    pub ic0: f64,
    /// Device-to-device spread of the anisotropy field μ0·H_k, per MTJ.
    pub mu0_hk: f64,
    /// Device-to-device spread of the Gilbert damping α, per MTJ.
    pub damping: f64,
    /// Device-to-device spread of R_P, per MTJ.
    pub r_p: f64,
    /// Device-to-device spread of R_AP, per MTJ.
    pub r_ap: f64,
    /// String-to-string spread of the SOT erase threshold (`string.erase_critical_ua`).
    pub erase_threshold: f64,
    /// Cycle-to-cycle spread of the program current, drawn for every pulse.
    pub program_current: f64,
    /// The seed the devices are drawn from (absent: the run's `training.seed`, so that
    /// seeds vary the chip as well as the training; set it to train one chip with
    /// several seeds).
    pub seed: Option<u64>,
}

impl Default for VariationConfig {
    fn default() -> Self {
        Self {
            distribution: Distribution::Lognormal,
            delta: 0.0,
            ic0: 0.0,
            mu0_hk: 0.0,
            damping: 0.0,
            r_p: 0.0,
            r_ap: 0.0,
            erase_threshold: 0.0,
            program_current: 0.0,
            seed: None,
        }
    }
}

/// Largest spread: a standard deviation as large as the nominal value.
pub const MAX_SPREAD: f64 = 1.0;

impl VariationConfig {
    /// The device-to-device spreads of the switching law's parameters, by key.
    pub fn switching_spreads(&self) -> [(&'static str, f64); 4] {
        [
            ("delta", self.delta),
            ("ic0", self.ic0),
            ("mu0_hk", self.mu0_hk),
            ("damping", self.damping),
        ]
    }

    /// Every spread, by key.
    pub fn spreads(&self) -> [(&'static str, f64); 8] {
        let [a, b, c, d] = self.switching_spreads();
        [
            a,
            b,
            c,
            d,
            ("r_p", self.r_p),
            ("r_ap", self.r_ap),
            ("erase_threshold", self.erase_threshold),
            ("program_current", self.program_current),
        ]
    }

    /// Whether any spread is on.
    pub fn any(&self) -> bool {
        self.spreads().iter().any(|(_, s)| *s > 0.0)
    }

    /// Checks ranges; errors name the key.
    pub fn validate(&self) -> Check {
        for (k, s) in self.spreads() {
            if !(s.is_finite() && (0.0..=MAX_SPREAD).contains(&s)) {
                return key_err(
                    &format!("variation.{k}"),
                    format!(
                        "must be a relative spread from 0 to {MAX_SPREAD} (0.05 = 5 %), got {}",
                        num(s)
                    ),
                );
            }
        }
        Ok(())
    }
}
