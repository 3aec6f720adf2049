"""Knowledge mining: action co-occurrence matrices and semantic priors, in batch."""
