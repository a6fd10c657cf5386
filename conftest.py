"""Loads the readiness plugins: manifest and case generation (checks), results and documents (reporting)."""

pytest_plugins = ["checks.plugin", "checks.gcp.fixtures", "reporting.plugin", "sandbox.plugin"]
