"""The HTTP edge every HTTP service shares: its application, errors, request checks, docs."""
