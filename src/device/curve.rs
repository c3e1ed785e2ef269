//! Device characterisation: switching probability, mean switching time and mean energy of
//! one program pulse over a grid of pulse widths and currents, so a device can be calibrated
//! against measurements before training with it (`nandspin device`).

use super::circuit::ProgramPulse;
use super::switching::Switching;
use crate::config::arch::ArchConfig;
use crate::config::device::{MAX_CURRENT_UA, MAX_PULSE_NS, MIN_PULSE_NS};
use crate::error::InputError;

/// Most points one grid axis may have.
pub const MAX_GRID_POINTS: usize = 10_000;

/// One grid point.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CurvePoint {
    /// Pulse width, in ns.
    pub pulse_ns: f64,
    /// Program current, in µA.
    pub current_ua: f64,
    /// Probability that one pulse switches the MTJ.
    pub p_switch: f64,
    /// Mean switching time of the pulses that switch, in ns (`None` if none do).
    pub mean_switch_ns: Option<f64>,
    /// Mean energy of one pulse (over outcomes and switching times), in pJ.
    pub energy_pj: f64,
}

/// The curve of the arch's MTJ and program circuit over `pulses_ns` x `currents_ua`.
pub fn characterise(arch: &ArchConfig, pulses_ns: &[f64], currents_ua: &[f64]) -> Vec<CurvePoint> {
    let sw = Switching::new(&arch.device);
    let pulse = ProgramPulse::new(&arch.device, &arch.energy);
    let mut out = Vec::with_capacity(pulses_ns.len() * currents_ua.len());
    for &current_ua in currents_ua {
        for &pulse_ns in pulses_ns {
            out.push(CurvePoint {
                pulse_ns,
                current_ua,
                p_switch: sw.p_switch(pulse_ns, current_ua),
                mean_switch_ns: sw.mean_switch_ns(pulse_ns, current_ua),
                energy_pj: pulse.expected_energy_pj(&sw, current_ua, pulse_ns),
            });
        }
    }
    out
}

/// The lower end of a grid axis's allowed range.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Lower {
    /// Values must be at least this.
    AtLeast(f64),
    /// Values must be above this.
    Above(f64),
}

/// Parses a grid axis: a comma-separated list (`1,2,3`) or `start:stop:step` (stop
/// included when it lies on the grid). `flag` names the option in errors and `what` its
/// values (`currents in µA`); values must lie between `lo` and `hi` (included).
pub fn parse_axis(
    flag: &str,
    spec: &str,
    what: &str,
    lo: Lower,
    hi: f64,
) -> Result<Vec<f64>, InputError> {
    let bad = |msg: String| InputError::new(format!("{flag} {spec}: {msg}"));
    let num = |s: &str| -> Result<f64, InputError> {
        s.trim()
            .parse::<f64>()
            .map_err(|_| bad(format!("`{}` is not a number", s.trim())))
    };
    let values = if spec.contains(':') {
        let parts: Vec<&str> = spec.split(':').collect();
        let [a, b, c] = parts[..] else {
            return Err(bad("a range is start:stop:step, e.g. 0.5:5:0.5".into()));
        };
        let (start, stop, step) = (num(a)?, num(b)?, num(c)?);
        if !(start.is_finite() && stop.is_finite()) {
            return Err(bad("start and stop must be finite numbers".into()));
        }
        if !(step.is_finite() && step > 0.0) {
            return Err(bad(format!("the step must be positive, got {step}")));
        }
        if stop < start || stop.is_nan() {
            return Err(bad(format!("stop {stop} is below start {start}")));
        }
        let n = ((stop - start) / step * (1.0 + 1e-12)).floor() + 1.0;
        if n > MAX_GRID_POINTS as f64 {
            return Err(bad(format!("more than {MAX_GRID_POINTS} points")));
        }
        // Rounded to 1e-9 so that 0.1:0.3:0.1 prints 0.3, not 0.30000000000000004.
        (0..n as usize)
            .map(|k| ((start + k as f64 * step) * 1e9).round() / 1e9)
            .collect()
    } else {
        spec.split(',').map(num).collect::<Result<Vec<_>, _>>()?
    };
    if values.len() > MAX_GRID_POINTS {
        return Err(bad(format!("more than {MAX_GRID_POINTS} points")));
    }
    let (above_lo, range) = match lo {
        Lower::AtLeast(l) => (
            Box::new(move |v: f64| v >= l) as Box<dyn Fn(f64) -> bool>,
            format!("from {l} to {hi:e}"),
        ),
        Lower::Above(l) => (
            Box::new(move |v: f64| v > l) as Box<dyn Fn(f64) -> bool>,
            format!("above {l} and at most {hi:e}"),
        ),
    };
    if let Some(v) = values
        .iter()
        .find(|v| !(v.is_finite() && above_lo(**v) && **v <= hi))
    {
        return Err(bad(format!("{what} must be {range}, got {v}")));
    }
    Ok(values)
}

/// Parses `--pulse-ns` (widths in ns).
pub fn parse_pulses(spec: &str) -> Result<Vec<f64>, InputError> {
    parse_axis(
        "--pulse-ns",
        spec,
        "pulse widths in ns",
        Lower::AtLeast(MIN_PULSE_NS),
        MAX_PULSE_NS,
    )
}

/// Parses `--current-ua` (currents in µA): above 0 (a program pulse with no current is no
/// pulse; the MTJ then only relaxes thermally, over its retention time ~tau_0·e^Delta) and
/// at most [`MAX_CURRENT_UA`].
pub fn parse_currents(spec: &str) -> Result<Vec<f64>, InputError> {
    parse_axis(
        "--current-ua",
        spec,
        "currents in µA",
        Lower::Above(0.0),
        MAX_CURRENT_UA,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes() {
        assert_eq!(parse_pulses("1,3").unwrap(), vec![1.0, 3.0]);
        let r = parse_pulses("0.5:2:0.5").unwrap();
        assert_eq!(r, vec![0.5, 1.0, 1.5, 2.0]);
        assert_eq!(parse_pulses("0.1:0.3:0.1").unwrap().len(), 3);
        assert!(parse_pulses("0,1").is_err());
        assert!(parse_pulses("-1").is_err());
        assert!(parse_pulses("1:0:1").is_err());
        assert!(parse_pulses("1:2:0").is_err());
        assert!(parse_pulses("x").is_err());
        assert!(parse_pulses("nan:1:1").is_err());
        assert!(parse_currents("inf:inf:1").is_err());
        assert!(parse_currents("0").is_err());
        assert!(parse_currents("-5").is_err());
        assert!(parse_currents("1e-3,120").is_ok());
        let msg = parse_currents("0").unwrap_err().to_string();
        assert_eq!(
            msg,
            "--current-ua 0: currents in µA must be above 0 and at most 1e5, got 0"
        );
        let msg = parse_pulses("0").unwrap_err().to_string();
        assert_eq!(
            msg,
            "--pulse-ns 0: pulse widths in ns must be from 0.001 to 1e6, got 0"
        );
        assert!(parse_pulses("0.001:1000:0.001").is_err());
    }

    #[test]
    fn curve_rises_with_width_and_current() {
        let arch = ArchConfig::default();
        let pts = characterise(&arch, &[0.5, 1.0, 2.0, 3.0], &[60.0, 120.0, 150.0]);
        for w in pts.windows(2) {
            if w[0].current_ua == w[1].current_ua {
                assert!(w[1].p_switch >= w[0].p_switch);
                assert!(w[1].energy_pj > w[0].energy_pj);
            }
        }
        let at = |p: f64, i: f64| {
            pts.iter()
                .find(|x| x.pulse_ns == p && x.current_ua == i)
                .unwrap()
                .p_switch
        };
        assert!(at(1.0, 150.0) > at(1.0, 120.0) && at(1.0, 120.0) > at(1.0, 60.0));
    }
}
