"""What auditors touch: populations, samples, export bundles (to come)."""
