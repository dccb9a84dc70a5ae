"""Corpus readers: one module per corpus, one signature, typed records out."""
