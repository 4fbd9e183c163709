"""Bounds on settings that both the recipe checks and the command line enforce (no torch
import here: the command line loads this before it knows whether it needs torch)."""

MAX_SEED = 2**32 - 1  # torch's generators take 64 bits, and batching multiplies the seed
MAX_THREADS = 1024
