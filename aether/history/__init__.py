"""What users choose Aether for: checking, inspecting, moving and forking recorded runs.

Layer 7 (docs/architecture.md), pure: these modules compute from recorded events with
the reducers, the projections and the scheduler. They never touch a log or a database:
reading and writing the log is the store's and the runtime's, which call them.
"""
