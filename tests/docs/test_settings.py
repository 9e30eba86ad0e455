"""README's Configuration table lists every setting the operator reads, and nothing it does not read
(tests/helm/test_settings.py checks that each is a chart value)."""

from __future__ import annotations

from pathlib import Path

from tests.docs.settings import configuration_table, variables_in_code


def test_every_variable_the_operator_reads_is_in_readmes_table() -> None:
    in_code = variables_in_code()
    in_readme = {v for row in configuration_table() for v in row.variables}
    assert in_code - in_readme == set(), "read by the operator, missing from README's Configuration table"
    assert in_readme - in_code == set(), "in README's Configuration table, read nowhere in the operator"


def test_every_row_names_a_chart_value() -> None:
    for row in configuration_table():
        assert len(row.chart_values) == len(row.variables), row


def test_the_parser_finds_a_new_setting_however_it_is_read(tmp_path: Path) -> None:
    """The control: a setting read in any of the usual ways is found, so a new one cannot slip past."""
    (tmp_path / "a.py").write_text(
        "import os\n"
        "x = os.environ.get('OPERATOR_NEW_ONE', '1')\n"
        "y = os.environ['ELASTICSEARCH_OTHER']\n"
        "def f(env): return env.get('OPERATOR_THIRD') or _int(env, 'OPERATOR_FOURTH')\n"
        "message = 'set OPERATOR_NOT_A_READ in the environment'\n"
    )
    assert variables_in_code(tmp_path) == {
        "OPERATOR_NEW_ONE",
        "ELASTICSEARCH_OTHER",
        "OPERATOR_THIRD",
        "OPERATOR_FOURTH",
    }
