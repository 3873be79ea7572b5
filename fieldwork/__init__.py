"""What auditors touch: export bundles and their offline check, populations, samples."""
