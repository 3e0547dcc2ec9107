"""Decode kernels: Triton GEMV, NF4 and attention kernels for batch-1 decoding, each with a torch reference."""
