"""What an admin edits: settings, rules, playbooks, roster; loading, validation, reload, and the
one view of the current definitions.
"""
