//! Tuning: the cheapest update policy that keeps the accuracy, found by successive halving
//! over candidate policies. Every training is a point of a sweep ([`crate::dse`]): each
//! rung is a sweep folder, run in parallel and resumably, sharded for a cluster.
//!
//! See `docs/tune.md` for the file format, the algorithm, the outputs and the commands.

pub mod best;
pub mod exec;
pub mod front;
pub mod halving;
pub mod outputs;
pub mod plan;
pub mod slurm;
pub mod spec;
pub mod table;

pub use plan::TunePlan;
pub use spec::Tune;
