"""The verifier role: derivation from L1, replay, divergence detection, disputes."""
