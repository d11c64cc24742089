"""The suggestion engine above the storage rules: when to scan, whom to nudge, and when."""
