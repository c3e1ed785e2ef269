//! What a sweep leaves on disk: `sweep.toml` (the plan, the manifest that `merge` reads),
//! `points/<id>/` (each point's run reports) and `sweep.csv` (one row per finished point).

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use super::plan::{PointPlan, fingerprint};
use super::spec::cell;
use crate::error::InputError;
use crate::report;

/// Name of the manifest file in a sweep folder.
pub const MANIFEST: &str = "sweep.toml";
/// Name of the table of results in a sweep folder.
pub const TABLE: &str = "sweep.csv";
/// The folder of the points' reports in a sweep folder.
pub const POINTS: &str = "points";

/// The plan of a sweep as written in its output folder (`sweep.toml`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Always `nandspin`.
    pub tool: String,
    /// Version of the build that wrote it.
    pub version: String,
    /// The sweep's name.
    pub name: String,
    /// The sweep file, as given.
    pub file: String,
    /// The plan's fingerprint (hash of the point ids in order); shards of one sweep share
    /// it.
    pub plan: String,
    /// The axis keys, in order.
    pub axes: Vec<String>,
    /// `--set` arguments given to the sweep command, applied to every point.
    pub sets: Vec<String>,
    /// This folder's shard (absent when it holds the whole sweep).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard_index: Option<usize>,
    /// The number of shards (absent when not sharded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard_count: Option<usize>,
    /// Every point of the sweep (not only this shard's).
    #[serde(rename = "point")]
    pub points: Vec<ManifestPoint>,
}

/// A point in the manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ManifestPoint {
    /// Its plan.
    #[serde(flatten)]
    pub plan: PointPlan,
    /// Its shard, when sharded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<usize>,
}

impl Manifest {
    /// The manifest's text.
    pub fn to_toml(&self) -> Result<Vec<u8>> {
        let mut text = String::from(
            "# nandspin sweep manifest: every point of the sweep (axis values, id, the training it\n# shares); this folder holds the points of shard `shard_index` when sharded.\n",
        );
        text.push_str(&toml::to_string(self)?);
        Ok(text.into_bytes())
    }

    /// Reads `DIR/sweep.toml`.
    pub fn read(dir: &Path) -> Result<Self, InputError> {
        let path = dir.join(MANIFEST);
        let text = fs::read_to_string(&path).map_err(|e| {
            InputError::new(format!(
                "{}: cannot read ({e}); is {} a sweep output folder?",
                path.display(),
                dir.display()
            ))
        })?;
        let m: Self = toml::from_str(&text).map_err(|e| {
            InputError::new(format!(
                "{}: not a sweep manifest: {}",
                path.display(),
                e.message()
            ))
        })?;
        let plans: Vec<PointPlan> = m.points.iter().map(|p| p.plan.clone()).collect();
        if fingerprint(&m.axes, &plans) != m.plan {
            return Err(InputError::new(format!(
                "{}: the axes or points do not match the plan fingerprint {}; the file was edited",
                path.display(),
                m.plan
            )));
        }
        Ok(m)
    }

    /// The points this folder is responsible for: its shard's, or all.
    pub fn own_points(&self) -> Vec<&PointPlan> {
        self.points
            .iter()
            .filter(|p| self.shard_index.is_none() || p.shard == self.shard_index)
            .map(|p| &p.plan)
            .collect()
    }
}

/// The report folder of point `id` in sweep folder `dir`.
pub fn point_dir(dir: &Path, id: &str) -> PathBuf {
    dir.join(POINTS).join(id)
}

/// Whether a point's report folder is complete and its results are those this build would
/// report: every report file is there, its `summary.csv` has today's columns, and its
/// `run.toml` has today's [`report::RESULTS_VERSION`].
pub fn is_complete(point_dir: &Path) -> bool {
    let header = report::summary_header().join(",");
    let summary_ok = fs::read_to_string(point_dir.join("summary.csv"))
        .ok()
        .is_some_and(|t| t.lines().next() == Some(header.as_str()) && t.lines().count() == 2);
    let version_ok = fs::read_to_string(point_dir.join("run.toml"))
        .ok()
        .and_then(|t| toml::from_str::<toml::Table>(&t).ok())
        .and_then(|t| {
            t.get("run")?
                .get("results_version")?
                .as_integer()
                .map(|v| v == i64::from(report::RESULTS_VERSION))
        })
        .unwrap_or(false);
    summary_ok && version_ok && crate::folder::missing(point_dir).is_empty()
}

/// The columns that describe a point: `point`, `id`, one per axis, `training`, `replayed`.
pub fn point_header(axes: &[String]) -> Vec<String> {
    let mut h: Vec<String> = vec!["point".into(), "id".into()];
    h.extend(axes.iter().cloned());
    h.extend(["training".into(), "replayed".into()]);
    h
}

/// A point's values in the [`point_header`] columns.
pub fn point_cells(p: &PointPlan) -> Vec<String> {
    let mut row: Vec<String> = vec![p.index.to_string(), p.id.clone()];
    row.extend(p.values.iter().map(cell));
    row.push(p.training.clone());
    row.push(p.replayed().to_string());
    row
}

/// The columns of `sweep.csv`: the [`point_header`] columns, then every column of
/// `summary.csv` (the wall-clock ones last).
pub fn header(axes: &[String]) -> Vec<String> {
    let mut h = point_header(axes);
    h.extend(report::summary_header().into_iter().map(String::from));
    h
}

/// The `sweep.csv` text for `points` (in the given order), read from their report folders
/// under `dir`; every point must be complete.
pub fn sweep_csv(dir: &Path, axes: &[String], points: &[&PointPlan]) -> Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(header(axes))?;
    for p in points {
        let path = point_dir(dir, &p.id).join("summary.csv");
        let mut r =
            csv::Reader::from_path(&path).with_context(|| format!("reading {}", path.display()))?;
        let summary = r
            .records()
            .next()
            .with_context(|| format!("{}: no row", path.display()))??;
        let mut row = point_cells(p);
        row.extend(summary.iter().map(String::from));
        w.write_record(&row)?;
    }
    Ok(w.into_inner()?)
}
