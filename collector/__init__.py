"""Runs connectors: config, the control catalog, the run loop and the `evidence` CLI."""
