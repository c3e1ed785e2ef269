//! Joining the output folders of a sweep's shards into one sweep folder.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::plan::PointPlan;
use super::table::{self, Manifest};
use crate::error::InputError;
use crate::report;

/// What a merge did.
#[derive(Debug, Clone, PartialEq)]
pub struct Merged {
    /// Points in the merged sweep.
    pub points: usize,
    /// The merged `sweep.csv`.
    pub table: PathBuf,
    /// A one-line warning when the points ran on different kernels (`kernel` column).
    pub warning: Option<String>,
}

/// Joins the shard folders `dirs` into `out` (default: their common parent, when they are
/// all shards): checks that they hold shards of one sweep and that every point is in
/// exactly one of them (complete), copies the points' reports into `out/points/`, and
/// writes `out/sweep.toml` and `out/sweep.csv`, the same as one unsharded run of the sweep
/// would have written.
pub fn merge(dirs: &[PathBuf], out: Option<&Path>) -> Result<Merged> {
    let first = dirs
        .first()
        .ok_or_else(|| InputError::new("sweep merge: give at least one shard folder"))?;
    for (i, d) in dirs.iter().enumerate() {
        if let Some(e) = dirs[..i].iter().find(|e| same_dir(e, d)) {
            return Err(InputError::new(format!(
                "sweep merge: {} is given twice (also as {})",
                d.display(),
                e.display()
            ))
            .into());
        }
    }
    let manifests: Vec<Manifest> = dirs
        .iter()
        .map(|d| Manifest::read(d))
        .collect::<Result<_, _>>()?;
    let base = &manifests[0];
    for (d, m) in dirs.iter().zip(&manifests).skip(1) {
        if m.plan != base.plan {
            return Err(InputError::new(format!(
                "{}: holds sweep {} (plan {}), but {} holds sweep {} (plan {}); merge the shards of one sweep only",
                d.display(),
                m.name,
                m.plan,
                first.display(),
                base.name,
                base.plan
            ))
            .into());
        }
    }
    let out: PathBuf = match out {
        Some(o) => o.to_path_buf(),
        None => default_out(dirs, &manifests)?,
    };
    let out = out.as_path();
    // Where each point's complete report is.
    let mut found: BTreeMap<&str, &Path> = BTreeMap::new();
    for (d, m) in dirs.iter().zip(&manifests) {
        for p in &m.points {
            if !table::is_complete(&table::point_dir(d, &p.plan.id)) {
                continue;
            }
            if let Some(other) = found.insert(&p.plan.id, d) {
                return Err(InputError::new(format!(
                    "point {} ({}) is in both {} and {}: each point must come from one shard",
                    p.plan.index,
                    describe(&p.plan, &base.axes),
                    other.display(),
                    d.display()
                ))
                .into());
            }
        }
    }
    let missing: Vec<&PointPlan> = base
        .points
        .iter()
        .map(|p| &p.plan)
        .filter(|p| !found.contains_key(p.id.as_str()))
        .collect();
    if !missing.is_empty() {
        let shard_of = |p: &PointPlan| {
            base.points
                .iter()
                .find(|q| q.plan.id == p.id)
                .and_then(|q| q.shard)
                .map_or(String::new(), |s| format!(", shard {s}"))
        };
        let list: Vec<String> = missing
            .iter()
            .take(5)
            .map(|p| format!("{} ({}{})", p.index, describe(p, &base.axes), shard_of(p)))
            .collect();
        return Err(InputError::new(format!(
            "{} of {} points have no complete report in the folders given: {}{}; rerun their shards (finished points are kept) and merge again",
            missing.len(),
            base.points.len(),
            list.join("; "),
            if missing.len() > 5 { "; ..." } else { "" }
        ))
        .into());
    }
    fs::create_dir_all(out.join(table::POINTS))
        .with_context(|| format!("creating {}", out.display()))?;
    for p in &base.points {
        let from = table::point_dir(found[p.plan.id.as_str()], &p.plan.id);
        let to = table::point_dir(out, &p.plan.id);
        if same_dir(&from, &to) {
            continue;
        }
        copy_report(&from, &to)?;
    }
    let mut merged = base.clone();
    merged.shard_index = None;
    merged.shard_count = None;
    for p in &mut merged.points {
        p.shard = None;
    }
    let all: Vec<&PointPlan> = merged.points.iter().map(|p| &p.plan).collect();
    let table_path = out.join(table::TABLE);
    report::write_atomic(&out.join(table::MANIFEST), &merged.to_toml()?)?;
    let csv = table::sweep_csv(out, &merged.axes, &all)?;
    report::write_atomic(&table_path, &csv)?;
    Ok(Merged {
        points: all.len(),
        table: table_path,
        warning: kernel_warning(&kernel_counts(&csv)?),
    })
}

/// How many rows of a `sweep.csv` text ran on each kernel.
fn kernel_counts(csv: &[u8]) -> Result<BTreeMap<String, usize>> {
    let mut r = csv::Reader::from_reader(csv);
    let col = r
        .headers()?
        .iter()
        .position(|h| h == report::KERNEL_COLUMN)
        .context("sweep.csv has no kernel column")?;
    let mut counts = BTreeMap::new();
    for row in r.records() {
        let row = row?;
        *counts.entry(row[col].to_string()).or_insert(0) += 1;
    }
    Ok(counts)
}

/// The warning for points from more than one kernel, naming each with its point count.
fn kernel_warning(counts: &BTreeMap<String, usize>) -> Option<String> {
    (counts.len() > 1).then(|| {
        let list: Vec<String> = counts
            .iter()
            .map(|(k, n)| format!("{k} ({n} point{})", if *n == 1 { "" } else { "s" }))
            .collect();
        format!(
            "warning: the merged points ran on different kernels: {}; their results may differ in the last bits (training.kernels = \"portable\" gives the same bits on every node)",
            list.join(", ")
        )
    })
}

/// The shard folders' common parent; an error unless they are all shards with one parent.
fn default_out(dirs: &[PathBuf], manifests: &[Manifest]) -> Result<PathBuf, InputError> {
    if let Some((d, _)) = dirs
        .iter()
        .zip(manifests)
        .find(|(_, m)| m.shard_index.is_none())
    {
        return Err(InputError::new(format!(
            "sweep merge: {} holds a whole sweep, not a shard; give --out",
            d.display()
        )));
    }
    let parent = |d: &PathBuf| {
        fs::canonicalize(d)
            .ok()
            .and_then(|c| c.parent().map(Path::to_path_buf))
    };
    let first = dirs.first().and_then(parent);
    match first {
        Some(p) if dirs.iter().all(|d| parent(d).as_ref() == Some(&p)) => Ok(p),
        _ => Err(InputError::new(
            "sweep merge: the shard folders have no common parent; give --out",
        )),
    }
}

fn describe(p: &PointPlan, axes: &[String]) -> String {
    format!("{}, id {}", p.label(axes), p.id)
}

fn same_dir(a: &Path, b: &Path) -> bool {
    match (fs::canonicalize(a), fs::canonicalize(b)) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    }
}

/// Copies a point's report files as one report ([`crate::folder::write_folder`]).
fn copy_report(from: &Path, to: &Path) -> Result<()> {
    let mut files: Vec<(&str, Vec<u8>)> = Vec::new();
    for n in crate::folder::REPORT_FILES {
        let mut bytes = fs::read(from.join(n))
            .with_context(|| format!("reading {}", from.join(n).display()))?;
        if n == "run.toml" {
            // The rerun command names the report's folder: the new one.
            let rerun = toml::Value::String(format!(
                "nandspin run --from {}",
                to.join("run.toml").display()
            ));
            let text: Vec<String> = String::from_utf8_lossy(&bytes)
                .lines()
                .map(|l| match l.starts_with("rerun = ") {
                    true => format!("rerun = {rerun}"),
                    false => l.to_string(),
                })
                .collect();
            bytes = (text.join("\n") + "\n").into_bytes();
        }
        files.push((n, bytes));
    }
    crate::folder::write_folder(to, &files, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warns_only_for_mixed_kernels() {
        let one = "point,kernel,wall_s\n0,native-avx2,1\n1,native-avx2,2\n";
        assert_eq!(
            kernel_warning(&kernel_counts(one.as_bytes()).unwrap()),
            None
        );
        let mixed = "point,kernel,wall_s\n0,native-avx2,1\n1,native-scalar,2\n2,native-avx2,1\n";
        let w = kernel_warning(&kernel_counts(mixed.as_bytes()).unwrap()).unwrap();
        assert_eq!(
            w,
            "warning: the merged points ran on different kernels: native-avx2 (2 points), native-scalar (1 point); their results may differ in the last bits (training.kernels = \"portable\" gives the same bits on every node)"
        );
        assert!(!w.contains('\n'));
    }
}
