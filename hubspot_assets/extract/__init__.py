"""Plain-Python stage logic: what each stage fetches and how it becomes stream records."""
