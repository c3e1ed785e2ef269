//! CNN numerics: tensors, layers (forward and backward), the loss and the network graph.

pub mod batch_norm;
pub mod conv;
pub mod dense;
pub mod direct;
pub mod elementwise;
pub mod gemm;
pub mod graph;
pub mod kernels;
pub mod loss;
pub mod network;
pub mod pool;
pub mod tensor;

#[cfg(test)]
mod gradcheck;
