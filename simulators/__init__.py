"""Local stand-ins for each platform's API, used by `evidence demo` and by tests."""
