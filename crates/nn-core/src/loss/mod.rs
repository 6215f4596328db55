//! Loss functions: softmax cross-entropy (integer labels, soft targets, label smoothing), multiclass SVM hinge, mean squared error.
