//! Checkpoints: save and load named parameters and buffers in the safetensors format with PyTorch names and layouts.
