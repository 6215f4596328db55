//! nn-optim (work in progress).
