"""Plain helper functions shared by test modules of more than one file.

One convention for the whole suite: a helper is a function in a module imported by its path
under ``tests.`` (``from tests.helpers.media import ffmpeg``), as ``tests.ingest_media``,
``tests.proxies`` and ``tests.features.fake_build`` already are; a fixture lives in the
``conftest.py`` of the narrowest folder holding every test that uses it. Helpers about one
topic that already has a module stay there (the Label Studio server in
``tests.annotation.server``, the fake builds in ``tests.features.fake_build``); the rest come here:

- ``build_state``: a ``build_state.json`` for a build folder assembled by hand;
- ``media``: running ffmpeg, decoding a whole video with OpenCV;
- ``model``: a seeded model and a first batch over the planted dataset;
- ``processes``: the processes of a process group still alive (the signal tests, bench/interrupt.py);
- ``synth``: where the synthetic corpora put a recording's files.
"""
