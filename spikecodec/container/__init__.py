"""Reading, writing and validating spike files (FORMAT.md)."""
