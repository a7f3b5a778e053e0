"""The aether/v1 protocol documents as frozen attrs classes.

Field names are snake_case; the wire name of each field is its camelCase form
unless the field's metadata names it (``wire``). A field whose value is absent
(or JSON ``null``, which SPEC §2.1 treats as absent) is ``None`` here; defaults
of SPEC §2.10 are applied by :func:`aether.model.defaults.apply_defaults`, not by
the classes, so that a loaded document dumps back to what was written.
"""

from __future__ import annotations

from typing import Literal, TypeAlias

from attrs import field, frozen

from aether.model.json_value import JSON

# The three variants of a template (SPEC §2.5); a node records the one it runs.
TemplateType: TypeAlias = Literal["task", "dag", "loop"]
_TEMPLATE_TYPES: tuple[TemplateType, ...] = ("dag", "task", "loop")


def wire(name: str) -> dict[str, str]:
    """Field metadata naming the key a field has in documents."""
    return {"wire": name}


# --- parameters ---------------------------------------------------------------------------


@frozen
class SecretKeyRef:
    name: str = ""
    key: str = ""


@frozen
class ValueFrom:
    path: str | None = None
    parameter: str | None = None
    expression: str | None = None
    secret_key_ref: SecretKeyRef | None = None

    def sources(self) -> list[str]:
        """The wire names of the sources that are set, in precedence order (SPEC §2.6)."""
        found: list[str] = []
        if self.path:
            found.append("path")
        if self.parameter:
            found.append("parameter")
        if self.expression:
            found.append("expression")
        if self.secret_key_ref is not None:
            found.append("secretKeyRef")
        return found


@frozen
class Parameter:
    name: str = ""
    type: str | None = None
    value: JSON = None
    default: JSON = None
    description: str | None = None
    enum: tuple[JSON, ...] | None = None
    value_from: ValueFrom | None = None

    @property
    def has_value(self) -> bool:
        return self.value is not None


@frozen
class ArtifactSource:
    type: str = ""
    config: dict[str, JSON] | None = None


@frozen
class ArtifactArchive:
    type: str = ""


@frozen
class Artifact:
    name: str = ""
    from_: str | None = field(default=None, metadata=wire("from"))
    source: ArtifactSource | None = None
    archive: ArtifactArchive | None = None


@frozen
class ParameterBlock:
    """``inputs``, ``arguments`` and ``outputs`` share one shape."""

    parameters: tuple[Parameter, ...] = ()
    artifacts: tuple[Artifact, ...] = ()


Inputs = ParameterBlock
Arguments = ParameterBlock
Outputs = ParameterBlock


# --- shared objects ----------------------------------------------------------------------


@frozen
class ContinueOn:
    failed: bool | None = None
    error: bool | None = None
    timeout: bool | None = None


@frozen
class PhaseConditions:
    succeeded: str | None = None
    failed: str | None = None
    error: str | None = None

    @property
    def is_empty(self) -> bool:
        return not (self.succeeded or self.failed or self.error)


@frozen
class Backoff:
    duration: str | None = None
    factor: float | None = None
    max_duration: str | None = None


@frozen
class Retry:
    limit: int | None = None
    expression: str | None = None
    backoff: Backoff | None = None


@frozen
class Resources:
    cpu: str | int | float | None = None
    memory: str | None = None
    gpu: str | int | None = None


@frozen
class Aggregate:
    strategy: str | None = None
    parameters: tuple[str, ...] | None = None


@frozen
class HookRef:
    template: str | None = None


HOOK_KEYS = ("onStart", "onSuccess", "onFailure", "onError", "onSuspend", "onResume", "onCancel", "onExit")


@frozen
class Hooks:
    on_start: HookRef | None = None
    on_success: HookRef | None = None
    on_failure: HookRef | None = None
    on_error: HookRef | None = None
    on_suspend: HookRef | None = None
    on_resume: HookRef | None = None
    on_cancel: HookRef | None = None
    on_exit: HookRef | None = None

    def get(self, hook_type: str) -> HookRef | None:
        """The hook for a wire name such as ``onStart``."""
        attr = "on_" + hook_type[2:].lower()
        value: HookRef | None = getattr(self, attr)
        return value

    def items(self) -> list[tuple[str, HookRef]]:
        """The set hooks as (wire name, ref), in the order of SPEC §2.6."""
        return [(key, ref) for key in HOOK_KEYS if (ref := self.get(key)) is not None]


@frozen
class Executor:
    type: str | None = None
    config: dict[str, JSON] | None = None


@frozen
class TemplateRef:
    name: str | None = None
    template: str | None = None


# --- templates ---------------------------------------------------------------------------


@frozen
class DagTask:
    name: str | None = None
    template: str | None = None
    template_ref: TemplateRef | None = None
    executor: Executor | None = None
    dependencies: tuple[str, ...] | None = None
    arguments: ParameterBlock | None = None
    when: str | None = None
    timeout: str | None = None
    retry: Retry | None = None
    continue_on: ContinueOn | None = None
    hooks: Hooks | None = None
    inputs: ParameterBlock | None = None
    outputs: ParameterBlock | None = None
    resources: Resources | None = None
    phase_conditions: PhaseConditions | None = None


@frozen
class DagTemplate:
    name: str | None = None
    inputs: ParameterBlock | None = None
    outputs: ParameterBlock | None = None
    tasks: tuple[DagTask, ...] | None = None
    # A string is stored as a one-element tuple; a value of another JSON type is
    # dropped by the loader with W-DAG-ENTRYPOINTS-TYPE.
    entrypoints: tuple[str, ...] | None = None
    continue_on: ContinueOn | None = None
    phase_conditions: PhaseConditions | None = None
    timeout: str | None = None


@frozen
class TaskTemplate:
    name: str | None = None
    executor: Executor | None = None
    inputs: ParameterBlock | None = None
    outputs: ParameterBlock | None = None
    timeout: str | None = None
    resources: Resources | None = None
    phase_conditions: PhaseConditions | None = None
    # Accepted and ignored (SPEC §2.5.3); kept so validation can warn about them.
    retry: Retry | None = None
    hooks: Hooks | None = None
    template: str | None = None
    dependencies: tuple[str, ...] | None = None
    arguments: ParameterBlock | None = None
    when: str | None = None
    continue_on: ContinueOn | None = None


@frozen
class LoopTemplate:
    name: str | None = None
    body: str | None = None
    items: tuple[JSON, ...] | None = None
    items_from: str | None = None
    repeat_condition: str | None = None
    concurrency: int | None = None
    max_iterations: int | None = None
    inputs: ParameterBlock | None = None
    arguments: ParameterBlock | None = None
    aggregate: Aggregate | None = None
    outputs: ParameterBlock | None = None
    phase_conditions: PhaseConditions | None = None
    timeout: str | None = None


TemplateBody = DagTemplate | TaskTemplate | LoopTemplate


@frozen
class Template:
    """One element of ``spec.templates``: exactly one of ``dag``, ``task``, ``loop`` is set
    in a valid document (E-TEMPLATE-VARIANT otherwise)."""

    dag: DagTemplate | None = None
    task: TaskTemplate | None = None
    loop: LoopTemplate | None = None

    @property
    def variants(self) -> list[TemplateType]:
        return [k for k in _TEMPLATE_TYPES if getattr(self, k) is not None]

    @property
    def body(self) -> TemplateBody | None:
        """The single variant, or ``None`` when there is not exactly one."""
        set_ = [v for v in (self.dag, self.task, self.loop) if v is not None]
        return set_[0] if len(set_) == 1 else None

    @property
    def kind(self) -> TemplateType | None:
        """``dag``, ``task`` or ``loop`` for a well-formed template."""
        variants = self.variants
        return variants[0] if len(variants) == 1 else None

    @property
    def name(self) -> str | None:
        body = self.body
        return body.name if body is not None else None


@frozen
class WorkflowTemplateRef:
    name: str | None = None
    namespace: str | None = None


@frozen
class WorkflowSpec:
    entrypoint: str | None = None
    templates: tuple[Template, ...] | None = None
    arguments: ParameterBlock | None = None
    timeout: str | None = None
    priority: int | None = None
    max_nested_depth: int | None = None
    hooks: Hooks | None = None
    workflow_template_ref: WorkflowTemplateRef | None = None


@frozen
class CronWorkflowSpec:
    schedule: str | None = None
    timezone: str | None = None
    start_at: str | None = None
    end_at: str | None = None
    concurrency_policy: str | None = None
    starting_deadline_seconds: int | None = None
    successful_jobs_history_limit: int | None = None
    failed_jobs_history_limit: int | None = None
    suspend: bool | None = None
    workflow_spec: WorkflowSpec | None = None
    catchup: str | None = None
    catchup_window: str | None = None


# --- documents ---------------------------------------------------------------------------


@frozen
class Metadata:
    name: str | None = None
    namespace: str | None = None
    version: str | None = None
    labels: dict[str, str] | None = None
    annotations: dict[str, str] | None = None


API_VERSION = "aether/v1"
KIND_WORKFLOW = "Workflow"
KIND_CRON = "CronWorkflow"
KIND_TEMPLATE = "WorkflowTemplate"
KINDS = (KIND_WORKFLOW, KIND_CRON, KIND_TEMPLATE)


@frozen
class Workflow:
    api_version: str | None = None
    kind: str | None = None
    metadata: Metadata | None = None
    spec: WorkflowSpec | None = None


@frozen
class WorkflowTemplate:
    api_version: str | None = None
    kind: str | None = None
    metadata: Metadata | None = None
    spec: WorkflowSpec | None = None


@frozen
class CronWorkflow:
    api_version: str | None = None
    kind: str | None = None
    metadata: Metadata | None = None
    spec: CronWorkflowSpec | None = None


Document = Workflow | CronWorkflow | WorkflowTemplate
