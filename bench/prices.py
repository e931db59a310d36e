"""The unit prices every cost figure uses: us-east-1, on demand, checked 2026-12-01. Kept here
once (and copied into the README's table). Fixed monthly costs — alarms, the dashboard,
schedules, secrets, KMS keys — are apart: they do not grow with mail."""

from __future__ import annotations

CHECKED = "2026-12-01"
REGION = "us-east-1"

# USD per unit
API_GATEWAY_REST_REQUEST = 3.50 / 1_000_000
LAMBDA_ARM64_GB_SECOND = 0.0000133334
LAMBDA_REQUEST = 0.20 / 1_000_000
SQS_REQUEST = 0.40 / 1_000_000
SNS_PUBLISH = 0.50 / 1_000_000  # SNS → SQS delivery is free
DYNAMODB_WRITE_UNIT = 0.625 / 1_000_000
DYNAMODB_READ_UNIT = 0.125 / 1_000_000
CLOUDWATCH_LOGS_GB = 0.50  # ingested
XRAY_TRACE = 5.00 / 1_000_000  # recorded
KMS_REQUEST = 0.03 / 10_000
SES_EMAIL = 0.10 / 1_000

TABLE = [
    ("API Gateway REST", "$3.50 per million requests"),
    ("Lambda arm64", "$0.0000133334 per GB-s + $0.20 per million requests"),
    ("SQS", "$0.40 per million requests"),
    ("SNS", "$0.50 per million publishes (SNS → SQS delivery free)"),
    ("DynamoDB on demand", "$0.625 per million write units, $0.125 per million read units"),
    ("CloudWatch Logs", "$0.50 per GB ingested"),
    ("X-Ray", "$5 per million traces recorded"),
    ("KMS", "$0.03 per 10,000 requests"),
    ("SES", "$0.10 per 1,000 emails (not in the infra figures)"),
]
