"""The `readiness` command: the suite's entry points under one name (see readiness.cli)."""
