"""The operators' command line, `python -m bot.admin` (console script
`community-bot-admin`): backup/restore, import-legacy, jobs, stats, moderators.

An adapter like `bot/telegram`: it parses arguments, calls services and renders their
results as tables (or JSON with `--json`). Exit codes: 0 done, 1 failed or refused,
2 bad usage or configuration.
"""
