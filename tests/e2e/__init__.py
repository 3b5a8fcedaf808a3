"""End-to-end tests: the real ``gkchat`` command run as subprocesses."""
