"""Clinical rules: pure functions over plain values, each with its source. No I/O here."""
