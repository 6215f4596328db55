//! nn-regularize (work in progress).
