"""Plain domain types: no framework imports here."""
