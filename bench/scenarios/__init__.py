"""The built-in scenarios; each module defines ``SCENARIO``."""
