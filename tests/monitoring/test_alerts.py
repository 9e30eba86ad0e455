"""The alerts (monitoring/alerts.yaml), checked by Prometheus's own code: `promtool check rules`, and `promtool
test rules` on tests/monitoring/alerts-test.yaml, where every alert has series that fire it and series that must
keep it silent. Each alert says what an on-call person needs (severity, summary, a description naming the
namespace, pod or cluster, a runbook in docs/runbooks.md)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from .support import ALERT_TESTS, ALERTS, RUNBOOK_BASE, RUNBOOKS, alert_rules, declared_names, metric_names, promtool


def test_promtool_check_rules_accepts_the_alerts() -> None:
    result = promtool("check", "rules", str(ALERTS))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(alert_rules())} rules found" in result.stdout


def test_promtool_unit_tests_of_the_alerts_pass() -> None:
    result = promtool("test", "rules", str(ALERT_TESTS))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_every_alert_has_series_that_fire_it_and_series_that_keep_it_silent() -> None:
    firing: set[str] = set()
    silent: set[str] = set()
    for case in yaml.safe_load(ALERT_TESTS.read_text())["tests"]:
        for check in case.get("alert_rule_test", []):
            (firing if check.get("exp_alerts") else silent).add(check["alertname"])
    names = {rule["alert"] for rule in alert_rules()}
    assert names - firing == set(), "alerts no unit test fires"
    assert names - silent == set(), "alerts no unit test keeps silent"
    assert firing | silent <= names, "unit tests of alerts that do not exist"


def test_the_unit_tests_fail_when_an_alert_loses_its_rule(tmp_path: Path) -> None:
    """The unit tests bite: with any one alert gone from the rule file, promtool test rules fails."""
    source = yaml.safe_load(ALERTS.read_text())
    tests = yaml.safe_load(ALERT_TESTS.read_text())
    for name in sorted(rule["alert"] for rule in alert_rules()):
        rules = {
            "groups": [
                {**group, "rules": [rule for rule in group["rules"] if rule.get("alert") != name]}
                for group in source["groups"]
            ]
        }
        (tmp_path / "alerts.yaml").write_text(yaml.safe_dump(rules))
        (tmp_path / "alerts-test.yaml").write_text(yaml.safe_dump({**tests, "rule_files": ["alerts.yaml"]}))
        result = promtool("test", "rules", "alerts-test.yaml", cwd=tmp_path)
        assert result.returncode != 0, f"the unit tests pass without {name}"
        assert f"alertname: {name}" in result.stdout + result.stderr


def _runbook_anchors() -> set[str]:
    """GitHub's anchors of docs/runbooks.md's headings (lowercased, punctuation dropped, spaces to hyphens)."""
    headings = re.findall(r"^#+ (.+)$", RUNBOOKS.read_text(), re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-") for heading in headings}


def test_every_alert_says_how_bad_what_where_and_links_its_runbook() -> None:
    anchors = _runbook_anchors()
    for rule in alert_rules():
        name = rule["alert"]
        assert rule["labels"]["severity"] in {"critical", "warning", "info"}, name
        annotations = rule["annotations"]
        assert set(annotations) == {"summary", "description", "runbook_url"}, name
        # Where: the labels the alert keeps (an aggregation's `by`; a plain selector keeps the target's namespace
        # and pod), save job and instance. Only the alert that fires when nothing is scraped has none.
        kept = {label for by in re.findall(r"\bby \(([^)]*)\)", rule["expr"]) for label in re.split(r",\s*", by)}
        if "absent(" not in rule["expr"]:
            kept = (kept or {"namespace", "pod"}) - {"job", "instance", "le"}
            assert "namespace" in kept, name
        for label in kept:
            assert f"$labels.{label}" in annotations["description"], f"{name}'s description does not name {label}"
        url = annotations["runbook_url"]
        assert url == f"{RUNBOOK_BASE}#{name.lower()}", name
        assert name.lower() in anchors, f"docs/runbooks.md has no section {name}"


def test_the_runbooks_have_a_section_for_each_alert_and_no_other() -> None:
    sections = re.findall(r"^## (\S+)$", RUNBOOKS.read_text(), re.MULTILINE)
    assert sorted(sections) == sorted(rule["alert"] for rule in alert_rules())


def test_the_alerts_use_only_metrics_the_operator_declares() -> None:
    """Names only: test_scrape.py checks them against a real scrape of the running operator."""
    for rule in alert_rules():
        # A description's queries are in printf's quoted format strings: every name in it counts.
        used = metric_names(rule["expr"]) | set(
            re.findall(r"es_inference_operator_\w+", rule["annotations"]["description"])
        )
        assert used and used - declared_names() - {"up"} == set(), rule["alert"]
