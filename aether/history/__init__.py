"""What users choose Aether for: checking, inspecting, moving and forking recorded runs.

Between the store and the runtime in the layer order of ARCHITECTURE.md: these modules
use the scheduler, the projections and the store (never the engine), and the runtime and
the CLI call them.
"""
