"""The roster's roles: the ids playbooks and rosters use, and how each is called.

One list, read by playbooks (item owners), the roster (who holds what), the console's
``act_roles`` and the statement approvals (:mod:`monitor.incidents.statements`).
"""

from __future__ import annotations

#: role id -> (Chinese name, English name)
ROLE_NAMES: dict[str, tuple[str, str]] = {
    "crisis_lead": ("危机负责人", "crisis lead"),
    "pr": ("公关", "PR"),
    "social_media": ("社交媒体", "social media"),
    "customer_service": ("客服", "customer service"),
    "quality": ("质量", "quality"),
    "legal": ("法务", "legal"),
    "operations": ("运营", "operations"),
    "logistics": ("物流", "logistics"),
    "safety": ("安全", "safety"),
    "hr": ("人力资源", "HR"),
    "management": ("管理层", "management"),
    "spokesperson": ("新闻发言人", "spokesperson"),
    "regulator_liaison": ("监管联络人", "regulator liaison"),
}

ROLES: tuple[str, ...] = tuple(ROLE_NAMES)

#: The roles that approve a statement before anyone may use it (``communication.approvers``).
DEFAULT_APPROVERS: tuple[str, ...] = ("crisis_lead", "legal", "spokesperson")


def role_name(role: str, locale: str) -> str:
    """The role as the team calls it in ``locale`` (the id itself when unknown)."""
    names = ROLE_NAMES.get(role)
    if names is None:
        return role
    return names[0] if locale == "zh-CN" else names[1]


def known_roles(roles: tuple[str, ...]) -> tuple[str, ...]:
    """``roles`` when every one is a role id (the validator of the settings that name roles)."""
    from monitor.config.validation import found_expected

    unknown = [r for r in roles if r not in ROLES]
    if unknown:
        raise found_expected(", ".join(unknown), f"roles among {', '.join(ROLES)}")
    return roles
