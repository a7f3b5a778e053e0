"""Every limit of SPEC §3.2, named. The values in force are recorded in
``WorkflowSubmitted`` so a replay judges a run by the limits it ran under."""

from __future__ import annotations

from attrs import asdict, evolve, frozen

MIB = 1024 * 1024


@frozen
class Limits:
    doc_bytes: int = 32 * MIB  # L-DOC
    templates: int = 10_000  # L-TEMPLATES
    tasks_per_dag: int = 200_000  # L-TASKS
    params_per_list: int = 500  # L-PARAMS
    loop_items: int = 200_000  # L-ITEMS
    loop_iterations: int = 200_000  # L-ITER
    max_nested_depth_ceiling: int = 10  # L-DEPTH
    name_length: int = 63  # L-NAME (not configurable)
    expr_length: int = 4096  # L-EXPR-LEN
    expr_depth: int = 64  # L-EXPR-DEPTH
    expr_steps: int = 10_000  # L-EXPR-STEPS
    # Elements visited and characters (in blocks of 64) copied, compared or
    # searched inside operators and functions, so that no single step can do
    # unbounded work.
    expr_work: int = 2_000_000  # L-EXPR-WORK
    expr_string: int = 1_048_576  # L-EXPR-VALUE (characters of a produced string)
    expr_list: int = 200_000  # L-EXPR-VALUE (elements of a produced list)
    expr_result_json: int = 8 * MIB  # L-EXPR-VALUE (characters of a result's compact JSON)
    regex_pattern: int = 256  # L-REGEX
    regex_subject: int = 4096  # L-REGEX
    value_bytes: int = 256 * 1024  # L-VALUE
    # Nesting of lists and objects in a stored value, an expression's result included.
    value_depth: int = 100  # L-VALUE-DEPTH
    result_bytes: int = MIB  # L-RESULT
    payload_bytes: int = 256 * 1024  # L-PAYLOAD
    nodes_per_run: int = 500_000  # L-NODES
    events_per_run: int = 10_000_000  # L-EVENTS
    catchup_runs: int = 100  # L-CATCHUP
    backfill_times: int = 1_000  # L-BACKFILL
    # Output one attempt of a task may leave in its log (stdout, stderr and messages):
    # the head and the tail are kept, with a line saying how much was cut between them.
    log_bytes: int = 10 * MIB  # L-LOG

    def to_json(self) -> dict[str, int]:
        return asdict(self)

    @staticmethod
    def from_json(data: dict[str, int]) -> Limits:
        known = {k: v for k, v in data.items() if k in Limits.__attrs_attrs__.__dict__ or hasattr(Limits(), k)}
        return evolve(Limits(), **known)


DEFAULT_LIMITS = Limits()
