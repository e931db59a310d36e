"""DynamoDB adapters: the message store, the suppression list, the sending switch and the
hourly outcome counters."""

from .counters import DynamoCounters
from .messages import SES_MESSAGE_ID_INDEX, DynamoMessageStore
from .suppressions import REASON_INDEX, DynamoSuppressionStore
from .switch import DynamoGuardLevels, DynamoSendingSwitch

__all__ = [
    "REASON_INDEX",
    "SES_MESSAGE_ID_INDEX",
    "DynamoCounters",
    "DynamoGuardLevels",
    "DynamoMessageStore",
    "DynamoSendingSwitch",
    "DynamoSuppressionStore",
]
