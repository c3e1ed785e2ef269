//! Design-space exploration: sweeps over config keys, run in parallel and resumably, split
//! into shards for a cluster, merged back, with one training shared by the points that
//! differ only in timing and energy parameters.
//!
//! See `docs/sweeps.md` for the file format, the output folder and the commands.

pub mod exec;
pub mod merge;
pub mod plan;
pub mod slurm;
pub mod spec;
pub mod table;

pub use exec::{Progress, RunOptions, Summary};
pub use plan::{Plan, PointPlan};
pub use spec::{Picked, Sweep};
