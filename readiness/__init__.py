"""`readiness`: the command-line entry points around the audit suite."""
