#include "logging.h"

Q_LOGGING_CATEGORY(lcNet, "punchline.net", QtWarningMsg)
Q_LOGGING_CATEGORY(lcStun, "punchline.stun", QtWarningMsg)
Q_LOGGING_CATEGORY(lcPunch, "punchline.punch", QtWarningMsg)
Q_LOGGING_CATEGORY(lcSession, "punchline.session", QtWarningMsg)
Q_LOGGING_CATEGORY(lcIdentity, "punchline.identity", QtWarningMsg)
Q_LOGGING_CATEGORY(lcTransfer, "punchline.transfer", QtWarningMsg)
Q_LOGGING_CATEGORY(lcEngine, "punchline.engine", QtWarningMsg)
Q_LOGGING_CATEGORY(lcRelay, "punchline.relay", QtWarningMsg)
