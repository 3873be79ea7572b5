"""APScheduler-based schedules and the manual-trigger path."""
