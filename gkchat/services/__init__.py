"""The rules: who may do what, in which order. No HTTP and no SQL here."""
