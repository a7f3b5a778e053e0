"""What users choose Aether for: checking, inspecting, moving and forking recorded runs.

Above the scheduler and the store: these modules read histories from a log, run the pure
decider over them, and write new streams.
"""
