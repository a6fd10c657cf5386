"""The `readiness` command and the suite's first-run tools (see readiness.cli)."""
