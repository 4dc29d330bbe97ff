"""The contracts every layer builds on: errors, the atomic writer, the numeric format, the
network and cost model, the ScheduleTable and the registries of layer kinds and weight
policies. Nothing here imports a layer above it (pyproject.toml's import contracts)."""
