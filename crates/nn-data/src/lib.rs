//! nn-data (work in progress).
