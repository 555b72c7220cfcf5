"""Wiring of the Slack extras (called from ``monitor.app``): webhook mode, the escalation
webhook, routes, and the escalation policy."""

from __future__ import annotations

import logging
from collections.abc import Mapping, MutableMapping
from typing import Any

from monitor.config.roster import Roster
from monitor.incidents.escalation import PAGE_DESTINATION, policy_of
from monitor.incidents.sla import SlaPolicy
from monitor.notify.render import Renderer, SlackRenderer
from monitor.protocols import Notifier

log = logging.getLogger(__name__)

WEBHOOK_MODE = (
    "Slack: incoming-webhook mode (%s): alerts and updates are posted to the webhook's channel; "
    "threads, edits in place, charts, routes and direct messages need a bot token "
    "(set %s and SLACK_CHANNEL); buttons %s"
)
BUTTONS_ON = "are kept (SLACK_SIGNING_SECRET is set: the webhook's app must send clicks to /slack/interactions)"
BUTTONS_OFF = "are left out (nothing would receive a click: set SLACK_SIGNING_SECRET and the app's Request URL)"


def extra_notifiers(
    config: Any,
    env: Mapping[str, str],
    roster: Roster | None,
    notifiers: MutableMapping[str, Notifier],
    renderers: MutableMapping[str, Renderer],
) -> None:
    """Add webhook-mode Slack (when there is no bot token) and the escalation webhook."""
    slack = config.notify.slack
    url = env.get(slack.webhook_env)
    if url and "slack" not in notifiers:
        from monitor.slack.client import SlackWebhookNotifier

        interactive = bool(env.get("SLACK_SIGNING_SECRET"))
        try:
            notifiers["slack"] = SlackWebhookNotifier(url, timeout=slack.timeout, interactive=interactive)
        except ValueError as exc:
            log.error("Slack is off: %s is set but %s", slack.webhook_env, exc)
        else:
            renderers["slack"] = SlackRenderer((roster or Roster()).mentions())
            log.info(WEBHOOK_MODE, slack.webhook_env, slack.token_env, BUTTONS_ON if interactive else BUTTONS_OFF)
    elif url:
        log.info("Slack: bot-token mode; %s is ignored", slack.webhook_env)
    hook = config.incidents.escalation_webhook
    if hook is None:
        return
    page_url = env.get(hook.url_env)
    if not page_url:
        log.warning("incidents.escalation_webhook is configured but %s is not set: no pages", hook.url_env)
        return
    from monitor.notify.webhook import WebhookPager

    try:
        notifiers[PAGE_DESTINATION] = WebhookPager(page_url, timeout=hook.timeout.total_seconds())
    except ValueError as exc:
        log.error("escalation webhook is off: %s (%s)", exc, hook.url_env)


def route_slack(notifiers: Mapping[str, Notifier], store: Any, config: Any) -> None:
    """Give the bot-token Slack notifier its routes (webhook mode has one channel)."""
    from monitor.notify.routing import MessageRouter
    from monitor.slack.client import SlackNotifier

    slack = notifiers.get("slack")
    if isinstance(slack, SlackNotifier):
        slack.route = MessageRouter(store, config.notify.slack)


def sla_policy(incidents: Any) -> SlaPolicy:
    return SlaPolicy(incidents.ack_timeout, incidents.reminder_every, policy_of(incidents))
