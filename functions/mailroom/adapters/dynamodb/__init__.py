"""DynamoDB adapters: the message store, the suppression list and the sending switch."""

from .messages import SES_MESSAGE_ID_INDEX, DynamoMessageStore
from .suppressions import REASON_INDEX, DynamoSuppressionStore
from .switch import DynamoSendingSwitch

__all__ = [
    "REASON_INDEX",
    "SES_MESSAGE_ID_INDEX",
    "DynamoMessageStore",
    "DynamoSendingSwitch",
    "DynamoSuppressionStore",
]
