//! nandspin: on-chip CNN training on NAND-SPIN MRAM, simulated.
//!
//! Today the crate holds the configs ([`config`]), the data sets ([`data`]), the CNN numerics
//! ([`nn`]), the NAND-SPIN device model
//! ([`device`]), the weight stores that hold the trainable parameters ([`store`]), the training
//! loop ([`train`]) and the reports ([`report`]).

pub mod config;
pub mod data;
pub mod device;
pub mod draws;
pub mod dse;
pub mod engine;
pub mod error;
pub mod folder;
pub mod hw;
pub mod nn;
pub mod pim;
pub mod plot;
pub mod report;
pub mod rng;
pub mod run;
pub mod sched;
pub mod store;
pub mod tech;
pub mod train;
pub mod tune;
pub mod validate;
