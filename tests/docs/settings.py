"""The operator's settings as the code reads them and as README's Configuration table lists them."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

from testbed.controlplane import REPO_ROOT

PACKAGE = REPO_ROOT / "operator" / "es_inference_operator"
README = REPO_ROOT / "README.md"
SETTING = re.compile(r"(ELASTICSEARCH|OPERATOR)_[A-Z0-9_]+")


def variables_in_code(package: Path = PACKAGE) -> set[str]:
    """Every string constant of the operator package that is a whole setting name (`env.get("X")`, `os.environ`,
    a helper's argument, a table of names): the parser finds them however they are read."""
    found: set[str] = set()
    for path in sorted(package.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and SETTING.fullmatch(node.value):
                found.add(node.value)
    return found


@dataclass(frozen=True)
class Row:
    variables: tuple[str, ...]
    default: str
    chart: str  # the chart value column, as written
    meaning: str

    @property
    def chart_values(self) -> tuple[str, ...]:
        """The chart's value paths, in the order of `variables` (one shared path for the Secret's keys)."""
        paths = tuple(
            re.findall(r"`((?:elasticsearch|operator|metrics|leaderElection)\.[A-Za-z.]+)`", self.chart.split("(")[0])
        )
        return paths if len(paths) == len(self.variables) else paths[:1] * len(self.variables)


def configuration_table(readme: Path = README) -> list[Row]:
    """The rows of the table in README's `## Configuration` section."""
    text = readme.read_text()
    section = text.split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[0].startswith("`"):
            names = tuple(re.findall(r"`([A-Z0-9_]+)`", cells[0]))
            rows.append(Row(names, cells[1], cells[2], cells[3]))
    return rows
