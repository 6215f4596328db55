//! nn-augment (work in progress).
