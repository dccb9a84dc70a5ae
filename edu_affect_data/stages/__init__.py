"""The build's stages, one module per stage and named as the stage: `ingest`, `annotate`, `pull`,
`aggregate`, `split`, `features` (a package of extractors), `publish` (with `card` and `validate`
beside it). Helpers of one stage sit next to it (`candidates`, `gaps`, `ingest_report` for ingest).

A stage is a function `run_<name>(config, paths, *, executor=None) -> StageOutcome`; `config` is
the slice of the pipeline configuration its `StageSpec` declares (`edu_affect_data.build.STAGES`).
Stages talk only through their artifacts on disk (`core.artifacts`).
"""
