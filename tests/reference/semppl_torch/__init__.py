"""PyTorch reference of exactly one SemPPL.Ort training step (see README.md in this folder)."""
