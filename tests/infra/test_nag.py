"""cdk-nag AwsSolutions: nothing unacknowledged, and every acknowledgement says why."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.infra


def test_synth_passes_the_aws_solutions_checks(synth):
    # Given the stack with AwsSolutionsChecks as a validation plugin
    # Then synth raised no ValidationFailed
    assert synth.validation_error is None, str(synth.validation_error)[:4000]


def test_no_finding_is_left_unacknowledged_not_even_a_warning(synth):
    [report] = synth.report["pluginReports"]
    assert report["pluginName"] == "AwsSolutions"
    assert report["violations"] == []


def test_every_acknowledgement_has_a_written_reason(synth):
    [report] = synth.report["pluginReports"]
    acknowledged = report["suppressedViolations"]
    assert acknowledged, "expected the documented acknowledgements to appear in the report"
    for finding in acknowledged:
        assert len(finding["reason"].split()) >= 12, finding["acknowledgedId"]
