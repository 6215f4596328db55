//! Batch-norm folding: merge an eval-mode BatchNorm into the preceding convolution or linear layer for inference.
