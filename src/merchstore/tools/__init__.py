"""Command-line tools for operators: watching topics and logs."""
