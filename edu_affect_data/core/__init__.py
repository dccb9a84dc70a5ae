"""The infrastructure every layer stands on; it imports nothing else of the package.

`registry` (one lazy registry for every extension point), `strict_config` (one strict YAML loader),
`stage` (what a stage receives and returns, `ConfigSlice`), `artifacts` (where each artifact lives
and its Arrow schema), `atomic` (writes a kill cannot half-do), `parallel` (one bounded window over
any executor), `lock` (one build per folder), `vocabulary` (classes, modalities, splits),
`stats` and `fingerprint` (each concept defined once).
"""
