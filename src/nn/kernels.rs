//! Which compiled kernels run: the CPU features the dispatch sees, and the name of the
//! kernel set a run used (`training.kernels`, recorded in `run.toml` and `summary.csv`).
//!
//! `native` uses the `gemm` crate, which picks its kernels from the CPU (x86-64: AVX2 with
//! fused multiply-add when the CPU has FMA, else scalar; AArch64: NEON), so the last bits
//! of a result may depend on the node a run lands on. `portable` runs one fixed sequence of
//! IEEE-754 operations per value (see [`super::gemm`]): the compiled copy may use wider
//! vectors where the CPU has them, but every copy gives the same bits.
//!
//! The environment variable [`FORCE_ENV`] (`scalar` or `avx2`) narrows the features our
//! own dispatch sees, so that tests can run the other compiled copies on one machine; it
//! never widens them (the CPU must have what runs), and it cannot change the `gemm`
//! crate's choice.

use std::sync::OnceLock;

use crate::config::workload::Kernels;

/// The environment variable that narrows the features our dispatch sees.
pub const FORCE_ENV: &str = "NANDSPIN_FORCE_ISA";

/// The compiled copies our own dispatch chooses between.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Isa {
    /// The build's baseline (x86-64: SSE2; AArch64: NEON).
    Baseline,
    /// x86-64 with AVX2 (no FMA: the bits are those of the baseline copy).
    Avx2,
}

/// The CPU features the kernel choice depends on, as detected.
pub fn detected_features() -> Vec<&'static str> {
    #[allow(unused_mut)]
    let mut f: Vec<&'static str> = Vec::new();
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx") {
            f.push("avx");
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            f.push("avx2");
        }
        if std::arch::is_x86_feature_detected!("fma") {
            f.push("fma");
        }
        if std::arch::is_x86_feature_detected!("avx512f") {
            f.push("avx512f");
        }
    }
    #[cfg(target_arch = "aarch64")]
    {
        if std::arch::is_aarch64_feature_detected!("neon") {
            f.push("neon");
        }
    }
    f
}

/// The value of [`FORCE_ENV`] when it is set and known (`scalar`, `avx2`); an unknown
/// value is an error.
pub fn forced() -> Result<Option<&'static str>, String> {
    match std::env::var(FORCE_ENV) {
        Err(_) => Ok(None),
        Ok(v) => match v.as_str() {
            "scalar" => Ok(Some("scalar")),
            "avx2" => Ok(Some("avx2")),
            _ => Err(format!(
                "environment variable {FORCE_ENV}: unknown value `{v}` (expected `scalar` or `avx2`)"
            )),
        },
    }
}

/// What the dispatch sees: the detected features, narrowed by [`FORCE_ENV`] (`scalar`:
/// none; `avx2`: at most `avx` and `avx2`). Read once per process.
pub fn seen_features() -> &'static [&'static str] {
    static SEEN: OnceLock<Vec<&'static str>> = OnceLock::new();
    SEEN.get_or_init(|| narrow(detected_features(), forced().ok().flatten()))
}

fn narrow(detected: Vec<&'static str>, forced: Option<&str>) -> Vec<&'static str> {
    match forced {
        None => detected,
        Some("avx2") => detected
            .into_iter()
            .filter(|f| matches!(*f, "avx" | "avx2"))
            .collect(),
        Some(_) => Vec::new(),
    }
}

/// The copy our dispatch runs, from [`seen_features`].
pub fn isa() -> Isa {
    static ISA: OnceLock<Isa> = OnceLock::new();
    *ISA.get_or_init(|| isa_of(seen_features()))
}

fn isa_of(seen: &[&str]) -> Isa {
    if cfg!(target_arch = "x86_64") && seen.contains(&"avx2") {
        Isa::Avx2
    } else {
        Isa::Baseline
    }
}

/// The GEMM kernels the `gemm` crate chooses on this CPU (its own rule: FMA on x86-64,
/// NEON on AArch64), as a name: `avx2`, `neon` or `scalar`.
fn gemm_crate_level() -> &'static str {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("fma") {
            return "avx2";
        }
    }
    #[cfg(target_arch = "aarch64")]
    {
        if std::arch::is_aarch64_feature_detected!("neon") {
            return "neon";
        }
    }
    "scalar"
}

/// The name of the kernels a run with `k` uses on this machine: `portable`, or `native-`
/// and the `gemm` crate's choice (`native-avx2`, `native-neon`, `native-scalar`).
pub fn kernel_name(k: Kernels) -> String {
    match k {
        Kernels::Portable => "portable".into(),
        Kernels::Native => format!("native-{}", gemm_crate_level()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_override_only_narrows() {
        let all = vec!["avx", "avx2", "fma", "avx512f"];
        assert_eq!(narrow(all.clone(), None), all);
        assert_eq!(narrow(all.clone(), Some("avx2")), ["avx", "avx2"]);
        assert!(narrow(all, Some("scalar")).is_empty());
        // Never more than the CPU has.
        assert!(narrow(vec!["avx"], Some("avx2")) == ["avx"]);
        assert_eq!(isa_of(&[]), Isa::Baseline);
        if cfg!(target_arch = "x86_64") {
            assert_eq!(isa_of(&["avx", "avx2"]), Isa::Avx2);
        }
    }

    #[test]
    fn names() {
        assert_eq!(kernel_name(Kernels::Portable), "portable");
        let native = kernel_name(Kernels::Native);
        assert!(
            ["native-avx2", "native-neon", "native-scalar"].contains(&native.as_str()),
            "{native}"
        );
    }
}
