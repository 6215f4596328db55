//! Linear-algebra kernels shared by the ops (the GEMM seam).

mod gemm;
mod gemm_serial;

pub use gemm::gemm;
pub(crate) use gemm::{gemm_with, worth_parallel};
pub use gemm_serial::gemm_serial;
