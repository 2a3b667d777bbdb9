"""Stacked GANs in PyTorch: StackGAN, SGAN (Huang et al.) and S²-GAN-style structure/style stacks.

`core` holds data, text encoders, networks, losses, the one training loop, metrics and the
inference pipeline. It depends on neither `bench` nor `demo`.
"""
