//! Weight initialisation: small random, Xavier/Glorot, Kaiming/MSRA, with fans computed as PyTorch does.
