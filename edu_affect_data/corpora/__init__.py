"""Corpus plugins: one reader module per corpus, one signature, typed records out (see `registry`)."""
