"""Notifications that reach people: PagerDuty's Events API v2 and Slack.

Textual-free.  ``pagerduty`` and ``slack`` speak each service's published API,
``delivery`` holds what a send answered and the retry with backoff, ``messages``
says an incident's news in words (redacted before it leaves the machine),
``channels`` builds the clients from the configuration and the environment,
``notifier`` follows the incident store and sends, and ``probe`` is
``rainbow-tui notify test``.
"""
