"""Data sources: MNIST digits from IDX files, the Hugging Face hub, or an embedded copy."""
