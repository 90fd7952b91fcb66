"""The use cases: import, export, split, health, recipe previews, GAN jobs.

Each is one function with `progress`/`should_stop` callbacks that orchestrates `core`, `store`
and `ml` (and worker processes); the CLI and the window both call these, so a policy exists
once. Nothing here imports Qt; torch only inside the GAN functions that need it.
"""
