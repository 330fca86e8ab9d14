"""Task runtime: one attempt of one task instance (context, templates, results, logs)."""
