"""Results plugin and the audit's report writers."""
