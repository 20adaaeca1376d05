"""The headless engine: the jobs the CLI and the desktop app both run."""
