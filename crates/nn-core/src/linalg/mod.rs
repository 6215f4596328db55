//! Linear-algebra kernels shared by the ops (the GEMM seam).

mod gemm;

pub use gemm::gemm;
