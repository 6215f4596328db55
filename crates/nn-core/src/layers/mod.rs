//! Layers: modules with parameters and buffers (`Linear`, `Sequential`, activations, `Flatten`, `Maxout`, convolution, pooling and normalisation layers).
