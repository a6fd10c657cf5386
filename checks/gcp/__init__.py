"""Reaching Google Cloud: credentials, clients built from the manifest, API errors in plain words."""
