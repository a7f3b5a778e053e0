"""Spec traceability: which tests exercise which section of docs/protocol.md.

A test names the sections it exercises with ``@pytest.mark.spec("6.5.1", "9.3")``; a
module does it for all its tests with ``pytestmark = pytest.mark.spec(...)``. This module
reads the numbered headings of docs/protocol.md, collects the marks of every test (a
``pytest --collect-only`` in a child process that loads this module as a plugin, so the
answer is the same under xdist and whatever the calling session selected), and writes
docs/spec-coverage.md, the table from section to tests:

    python -m tests.spec_report           # rewrite docs/spec-coverage.md
    python -m tests.spec_report --check   # exit 1 when it is out of date

``tests/test_spec_traceability.py`` runs the same checks in the suite.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from collections import defaultdict
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import attrs

ROOT = Path(__file__).resolve().parent.parent
PROTOCOL = ROOT / "docs" / "protocol.md"
COVERAGE = ROOT / "docs" / "spec-coverage.md"
HEADING = re.compile(r"^#{2,4} (\d+(?:\.\d+)*)\.? (.+)$")
MARKS_FILE_ENV = "AETHER_SPEC_MARKS_FILE"
GENERATOR = "python -m tests.spec_report"

# Sections that define no behaviour of Aether, so no test can exercise them. Everything
# below such a section is exempt too. Keep this short: a reason per entry.
WITHOUT_BEHAVIOUR: dict[str, str] = {
    "1.2": "says which syntax may trigger an extension; each extension is specified and tested in its own section",
    "16.1": "the conformance runner's own wiring (log, clock, ids, worker): test setup, not behaviour",
    "17": "a summary of differences, each specified by the section it cites and tested there",
}


# --- the protocol's sections ----------------------------------------------------------------


def parse_sections(text: str) -> dict[str, str]:
    """Section number -> title, in document order, from ``##``-``####`` numbered headings."""
    sections: dict[str, str] = {}
    for line in text.splitlines():
        match = HEADING.match(line)
        if match is not None:
            sections[match.group(1)] = match.group(2).strip()
    return sections


def protocol_sections() -> dict[str, str]:
    return parse_sections(PROTOCOL.read_text(encoding="utf-8"))


def is_within(section: str, ancestor: str) -> bool:
    """``section`` is ``ancestor`` or below it (6.5.1 is within 6.5 and 6, not within 6.50)."""
    return section == ancestor or section.startswith(ancestor + ".")


def exemption_of(section: str) -> str | None:
    for exempt, reason in WITHOUT_BEHAVIOUR.items():
        if is_within(section, exempt):
            return reason
    return None


# --- the tests' marks -----------------------------------------------------------------------


@attrs.frozen
class CollectedTest:
    node_id: str
    sections: tuple[str, ...]

    @property
    def module(self) -> str:
        return self.node_id.split("::", 1)[0]

    @property
    def function(self) -> str:
        """The test without its parameters: ``path::Class::test_x``."""
        return self.node_id.split("[", 1)[0]


def pytest_collection_finish(session: Any) -> None:
    """Plugin hook (only with ``-p tests.spec_report``): write every collected test and its
    spec sections to the file named by ``AETHER_SPEC_MARKS_FILE``."""
    target = os.environ.get(MARKS_FILE_ENV)
    if not target:
        return
    records = [
        {"node_id": item.nodeid, "sections": [str(a) for m in item.iter_markers("spec") for a in m.args]}
        for item in session.items
    ]
    Path(target).write_text(json.dumps(records), encoding="utf-8")


def collect_tests() -> list[CollectedTest]:
    """Every test of ``tests/`` with the sections it is marked with."""
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "marks.json"
        command = [
            sys.executable,
            "-m",
            "pytest",
            "--collect-only",
            "-q",
            "-p",
            "tests.spec_report",
            "-p",
            "no:cacheprovider",
            "-o",
            "addopts=--strict-markers",
            "tests",
        ]
        env = {**os.environ, MARKS_FILE_ENV: str(out)}
        done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
        if done.returncode != 0 or not out.exists():
            raise RuntimeError(f"collecting the tests failed (exit {done.returncode}):\n{done.stdout}\n{done.stderr}")
        records = json.loads(out.read_text(encoding="utf-8"))
    return [CollectedTest(r["node_id"], tuple(r["sections"])) for r in records]


# --- checks ---------------------------------------------------------------------------------


def unknown_marks(tests: Iterable[CollectedTest], sections: Mapping[str, str]) -> dict[str, list[str]]:
    """Marked section -> the tests whose mark names a section the protocol does not have."""
    unknown: dict[str, list[str]] = defaultdict(list)
    for test in tests:
        for section in test.sections:
            if section not in sections:
                unknown[section].append(test.node_id)
    return dict(unknown)


def uncovered_sections(tests: Iterable[CollectedTest], sections: Mapping[str, str]) -> list[str]:
    """Behaviour-defining sections with no test marked with them or with a section below them."""
    marked = {section for test in tests for section in test.sections}
    return [
        section
        for section in sections
        if exemption_of(section) is None and not any(is_within(mark, section) for mark in marked)
    ]


def marked_exemptions(tests: Iterable[CollectedTest]) -> dict[str, list[str]]:
    """Tests marked with a section listed as defining no behaviour: one of the two is wrong."""
    found: dict[str, list[str]] = defaultdict(list)
    for test in tests:
        for section in test.sections:
            if exemption_of(section) is not None:
                found[section].append(test.node_id)
    return dict(found)


# --- the report -----------------------------------------------------------------------------


def tests_by_section(tests: Iterable[CollectedTest]) -> dict[str, list[str]]:
    """Section -> what exercises it: a module when all its tests carry the mark, otherwise
    the marked test functions (parameters left out)."""
    tests = list(tests)
    per_module: dict[str, list[CollectedTest]] = defaultdict(list)
    for test in tests:
        per_module[test.module].append(test)
    table: dict[str, list[str]] = defaultdict(list)
    for module, module_tests in sorted(per_module.items()):
        marked: dict[str, list[CollectedTest]] = defaultdict(list)
        for test in module_tests:
            for section in dict.fromkeys(test.sections):
                marked[section].append(test)
        for section, carriers in marked.items():
            if len(carriers) == len(module_tests):
                table[section].append(module)
            else:
                table[section].extend(dict.fromkeys(t.function for t in carriers))
    return dict(table)


def render(sections: Mapping[str, str], tests: Iterable[CollectedTest]) -> str:
    table = tests_by_section(tests)
    lines = [
        "# Spec coverage",
        "",
        "Which tests exercise each section of the [protocol](protocol.md). A test names its sections with",
        '`@pytest.mark.spec("6.5.1")`, a test module with `pytestmark = pytest.mark.spec(...)`. A section is covered',
        "by the tests marked with it or with a section below it. Generated by `" + GENERATOR + "`;",
        "`tests/test_spec_traceability.py` fails when this file is out of date, when a behaviour-defining section has",
        "no test, or when a mark names a section that does not exist.",
        "",
        "| Section | Title | Tests |",
        "|---|---|---|",
    ]
    for number, title in sections.items():
        reason = exemption_of(number)
        if reason is not None and number in WITHOUT_BEHAVIOUR:
            cell = f"no behaviour: {reason}"
        elif reason is not None:
            cell = f"no behaviour (see §{_exempt_ancestor(number)})"
        else:
            cell = "<br>".join(f"`{entry}`" for entry in table.get(number, ())) or _uncovered_cell(number, sections)
        lines.append(f"| {number} | {_cell(title)} | {_cell(cell)} |")
    return "\n".join(lines) + "\n"


def _uncovered_cell(section: str, sections: Mapping[str, str]) -> str:
    below = any(other != section and is_within(other, section) for other in sections)
    return "(see the sections below)" if below else "**no test**"


def _exempt_ancestor(section: str) -> str:
    return next(exempt for exempt in WITHOUT_BEHAVIOUR if is_within(section, exempt))


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def main(argv: list[str]) -> int:
    check = "--check" in argv
    sections = protocol_sections()
    tests = collect_tests()
    problems = [
        f"mark names no section of the protocol: {s} ({len(ids)} tests)"
        for s, ids in unknown_marks(tests, sections).items()
    ]
    problems += [f"no test exercises §{s} {sections[s]}" for s in uncovered_sections(tests, sections)]
    for problem in problems:
        print(problem, file=sys.stderr)
    report = render(sections, tests)
    if check:
        current = COVERAGE.read_text(encoding="utf-8") if COVERAGE.exists() else ""
        if current != report:
            print(f"{COVERAGE.relative_to(ROOT)} is out of date: run {GENERATOR}", file=sys.stderr)
            return 1
        return 1 if problems else 0
    COVERAGE.write_text(report, encoding="utf-8")
    print(f"wrote {COVERAGE.relative_to(ROOT)}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
