//! Linear-algebra kernels shared by the ops (the GEMM seam).

mod gemm;
mod gemm_serial;

pub use gemm::gemm;
pub(crate) use gemm::{PARALLEL_THRESHOLD, gemm_with};
pub use gemm_serial::gemm_serial;
