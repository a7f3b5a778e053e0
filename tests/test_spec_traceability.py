"""Every behaviour the protocol defines has a test, and the tests say which (``tests/spec_report.py``).

Checked against docs/protocol.md: every section that defines behaviour (or a section
below it) has a test marked with ``pytest.mark.spec``; every mark names a section that
exists; no test is marked with a section listed as defining no behaviour; and
docs/spec-coverage.md is what ``python -m tests.spec_report`` writes today.
"""

from __future__ import annotations

import pytest

from tests import spec_report
from tests.spec_report import CollectedTest, is_within, parse_sections, render

# Collecting the whole suite in a child process takes a while on a loaded machine.
pytestmark = pytest.mark.timeout(600)

SAMPLE = """# Title

## 0. Conventions
### 1.1 Protocol conformance
#### 6.5.1 Leaf
##### 9.9.9.9 Too deep for a section
### 7.3 DAG readiness
Text that mentions ## 8. but is not a heading.
## 12. Cron
"""


def test_headings_are_numbered_sections_at_levels_two_to_four() -> None:
    assert parse_sections(SAMPLE) == {
        "0": "Conventions",
        "1.1": "Protocol conformance",
        "6.5.1": "Leaf",
        "7.3": "DAG readiness",
        "12": "Cron",
    }


def test_a_section_contains_its_subsections_only() -> None:
    assert is_within("6.5.1", "6.5") and is_within("6.5", "6.5") and is_within("6.5.1", "6")
    assert not is_within("6.50", "6.5") and not is_within("16.1", "6") and not is_within("6", "6.5")


def test_the_report_lists_a_module_whose_tests_all_carry_a_mark_and_otherwise_the_tests() -> None:
    tests = [
        CollectedTest("tests/a.py::test_x[1]", ("6.5.1",)),
        CollectedTest("tests/a.py::test_x[2]", ("6.5.1",)),
        CollectedTest("tests/a.py::test_y", ("6.5.1", "9.3")),
        CollectedTest("tests/b.py::test_z", ()),
    ]
    assert spec_report.tests_by_section(tests) == {"6.5.1": ["tests/a.py"], "9.3": ["tests/a.py::test_y"]}
    report = render({"6.5": "Exec code", "6.5.1": "Leaf", "9.3": "Backoff | (Extension)"}, tests)
    assert "| 6.5.1 | Leaf | `tests/a.py` |" in report
    assert "| 9.3 | Backoff \\| (Extension) | `tests/a.py::test_y` |" in report
    assert "| 6.5 | Exec code | (see the sections below) |" in report


def test_every_exemption_names_a_section_with_a_reason() -> None:
    sections = spec_report.protocol_sections()
    for section, reason in spec_report.WITHOUT_BEHAVIOUR.items():
        assert section in sections, f"exempt section {section} is not in docs/protocol.md"
        assert reason.strip()


def test_the_protocol_sections_the_tests_and_the_committed_table_agree() -> None:
    sections = spec_report.protocol_sections()
    assert sections, "docs/protocol.md has no numbered headings"
    tests = spec_report.collect_tests()
    assert tests, "no test was collected"
    problems = [
        f"§{section} does not exist in docs/protocol.md, yet marks {ids[:3]}"
        for section, ids in spec_report.unknown_marks(tests, sections).items()
    ]
    problems += [
        f"§{section} {sections[section]}: no test is marked with it or a section below it"
        for section in spec_report.uncovered_sections(tests, sections)
    ]
    problems += [
        f"§{section} is listed as defining no behaviour, yet marks {ids[:3]}"
        for section, ids in spec_report.marked_exemptions(tests).items()
    ]
    committed = spec_report.COVERAGE.read_text(encoding="utf-8") if spec_report.COVERAGE.exists() else ""
    if committed != render(sections, tests):
        problems.append(f"docs/spec-coverage.md is out of date: run {spec_report.GENERATOR}")
    assert not problems, "\n".join(problems)
