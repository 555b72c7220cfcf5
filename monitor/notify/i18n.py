"""The team's language and time: every label, button, heading and status word we print.

:class:`Lang` is one small value (locale, time zone, bilingual) handed to whatever renders
text for people: Slack payloads, modals, reminders, the console. ``lang.t(key, **fields)``
looks a label up in :data:`CATALOG` (each entry has a ``zh-CN`` and an ``en`` side);
``lang.time(moment)`` prints a time in the configured zone (Slack's own ``<!date^…>`` tokens
are left to Slack); ``lang.pick(zh, en)`` chooses a side of a bilingual playbook text, or
shows both when ``bilingual`` is on.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Literal
from zoneinfo import ZoneInfo

from monitor.config.roles import role_name
from monitor.detect.severity import SEV_LABEL
from monitor.models import Evidence, fmt_num

Locale = Literal["zh-CN", "en"]
LOCALES: tuple[Locale, ...] = ("zh-CN", "en")

#: key -> (zh-CN, en). Fields in braces are filled by :meth:`Lang.t`.
CATALOG: dict[str, tuple[str, str]] = {
    # status words
    "status.open": ("🔔 未确认", "🔔 Open, not acknowledged"),
    "status.acknowledged": ("👀 已确认", "👀 Acknowledged"),
    "status.stable": ("🟢 已稳定", "🟢 Stable"),
    "status.resolved": ("✅ 已解决", "✅ Resolved"),
    "status.closed": ("☑️ 已关闭", "☑️ Closed"),
    "sev.critical": ("危急", "critical"),
    "sev.high": ("高", "high"),
    "sev.medium": ("中", "medium"),
    "sev.low": ("低", "low"),
    "word.open": ("未确认", "open"),
    "word.acknowledged": ("已确认", "acknowledged"),
    "word.stable": ("已稳定", "stable"),
    "word.resolved": ("已解决", "resolved"),
    "word.closed": ("已关闭", "closed"),
    # alert labels
    "label.status": ("状态", "Status"),
    "label.opened": ("发生", "Opened"),
    "label.resolved": ("解决", "Resolved"),
    "label.rule": ("规则", "Rule"),
    "label.group": ("分组", "Group"),
    "label.playbook": ("预案", "Playbook"),
    "label.owners": ("负责人", "Owners"),
    "label.commander": ("事件指挥", "Commander"),
    "label.by": ("{who}", "by {who}"),
    "label.done_count": ("已完成 {done}/{total}", "{done}/{total} done"),
    "label.overdue_count": ("{n} 项逾期", "{n} overdue"),
    "label.updated": ("更新于 {time} · 事件 #{id}", "Updated {time} · incident #{id}"),
    "heading.evidence": ("触发依据", "What crossed what"),
    "heading.no_evidence": ("未记录依据", "no evidence recorded"),
    "heading.stories": ("相关内容（最负面在前）", "Matched stories, most negative first"),
    "heading.spreading": ("传播情况", "What is spreading"),
    "heading.checklist": ("📋 处置清单 · #{id} {title}", "📋 Checklist · #{id} {title}"),
    "heading.no_items": ("没有清单项。", "No checklist items."),
    "label.as_of": ("截至 {time}", "as of {time}"),
    "label.more_items": ("… 另有 {n} 项", "… {n} more items"),
    "item.done": ("✅ {who}完成 {time}", "✅ done{who} {time}"),
    "item.due": ("⏰ 截止 {time}", "⏰ due {time}"),
    "item.overdue": ("🚨 *已逾期*", "🚨 *OVERDUE*"),
    "checklist.fallback": (
        "#{id} {title} 处置清单：已完成 {done}/{total}",
        "Checklist for #{id} {title}: {done}/{total} done",
    ),
    # stories and spread
    "story.sentiment": ("情感 {value}", "sentiment {value}"),
    "story.no_sentiment": ("情感 无", "sentiment n/a"),
    "story.copies": ("×{n} 份{via}", "×{n} copies{via}"),
    "story.via": ("，来自 {sources}", " via {sources}"),
    "story.followers": ("（{n} 粉丝）", " ({n} followers)"),
    "story.by": ("作者 {who}{reach}", "by {who}{reach}"),
    "story.other_language": ("其他语言，未评分", "other language, not scored"),
    "spread.volume": ("{items} 条内容，{stories} 个话题", "{items} item(s) in {stories} story(ies)"),
    "spread.sources": ("来源：", "By source:"),
    "spread.terms": ("上升词：", "Rising terms:"),
    "spread.authors": ("主要作者：", "Top authors:"),
    "spread.other_languages": (
        "{n} 条其他语言内容：计入数量，未评分",
        "{n} item(s) in other languages: counted as volume, not scored",
    ),
    # buttons
    "button.ack": ("确认", "Acknowledge"),
    "button.stable": ("标记稳定", "Mark stable"),
    "button.resolve": ("解决", "Resolve"),
    "button.close": ("关闭", "Close"),
    "button.status_update": ("状态更新", "Status update"),
    "button.assign": ("指派", "Assign"),
    "button.show_checklist": ("查看清单", "Show checklist"),
    "button.mute": ("静音…", "Mute for…"),
    "button.mute_hours": ("静音 {h} 小时", "Mute for {h} h"),
    "button.draft": ("起草声明…", "Draft a statement…"),
    "button.approve": ("批准", "Approve"),
    "button.return": ("退回", "Return"),
    "button.edit": ("修改", "Edit"),
    "button.done": ("完成", "Done"),
    "button.undo": ("撤销", "Undo"),
    # modals
    "modal.submit": ("提交", "Submit"),
    "modal.cancel": ("取消", "Cancel"),
    "modal.ok": ("知道了", "OK"),
    "modal.refused": ("未做任何更改", "Nothing changed"),
    "modal.status.title": ("状态更新", "Status update"),
    "modal.status.label": ("更新内容（发到事件线程并记录）", "Update (posted to the thread and recorded)"),
    "modal.assign.title": ("指派", "Assign"),
    "modal.assign.commander": ("事件指挥", "Incident commander"),
    "modal.assign.item": ("清单项", "Checklist item"),
    "modal.assign.owner": ("该项负责人", "Owner of that item"),
    "modal.close.title": ("确认关闭", "Confirm close"),
    "modal.close.body": (
        "事件 #{id} 目前{status}，尚未解决。确定要直接关闭吗？",
        "Incident #{id} is {status}, not resolved. Close it anyway?",
    ),
    "modal.close.submit": ("仍然关闭", "Close anyway"),
    "modal.draft.title": ("起草声明", "Draft statement"),
    "modal.draft.label": ("{kind}（可编辑，提交后送审）", "{kind} (edit, then submit for approval)"),
    "modal.draft.note": (
        "crisismon 不会发布任何内容，批准后由发言人发布。",
        "crisismon never publishes: the spokesperson does, once approved.",
    ),
    "modal.return.title": ("退回声明", "Return statement"),
    "modal.return.label": ("退回意见", "What must change"),
    # operations (thread updates)
    "op.acknowledged": ("{who} 已确认", "acknowledged by {who}"),
    "op.stable": ("{who} 标记为已稳定", "marked stable by {who}"),
    "op.resolved": ("{who} 已解决", "resolved by {who}"),
    "op.closed": ("{who} 已关闭", "closed by {who}"),
    "op.closed_forced": ("{who} 已强制关闭", "closed by {who} (forced)"),
    "op.note": ("{who} 备注：{text}", "note from {who}: {text}"),
    "op.status_update": ("📣 状态更新（{who}）：{text}", "📣 Status update from {who}: {text}"),
    "op.muted": ("{who} 已将提醒静音 {h} 小时（至 {until}）", "reminders muted for {h} h by {who} (until {until})"),
    "op.commander": ("{who} 指派 {name} 为事件指挥", "{who} made {name} the incident commander"),
    "op.owner": ("{who} 指派 {name} 负责：{item}", "{who} made {name} the owner of: {item}"),
    "op.ticked": ("☑ {item} — {who}", "☑ {item} — {who}"),
    "op.unticked": ("☐ {item} — {who}", "☐ {item} — {who}"),
    "op.late": ("（逾期）", " (late)"),
    # console
    "console.alert": ("危机告警", "CRISIS ALERT"),
    "console.status": ("状态", "status"),
    "console.opened": ("发生", "opened"),
    "console.rule": ("规则", "rule"),
    "console.why": ("原因", "why"),
    "console.group": ("分组", "group"),
    "console.stories": ("相关内容（最负面在前）", "matched stories, most negative first"),
    "console.playbook": ("预案", "playbook"),
    "console.checklist": ("事件 #{id} 处置清单", "checklist for incident #{id}"),
    "console.owner": ("负责", "owner"),
    "console.commander": ("事件指挥", "commander"),
    "console.due": ("截止", "due"),
    "console.overdue": ("已逾期", "OVERDUE"),
    "console.incident": ("事件", "incident"),
    # what the incident service says in the thread
    "svc.related": (
        "相关规则 {rule}（{description}）也已触发：{evidence}",
        "related rule {rule} ({description}) fires too: {evidence}",
    ),
    "svc.raised_too": ("；严重程度升至 {severity}", "; severity raised to {severity}"),
    "svc.raised": ("严重程度升至 {severity}：{evidence}", "severity raised to {severity}: {evidence}"),
    "svc.items_added": ("；现适用 {n} 项新增清单项：{items}", "; {n} checklist item(s) now apply: {items}"),
    "svc.fired_again": (
        "规则在解决后不久（realert 时间内）再次触发：{evidence}",
        "the rule fires again soon after resolution (within realert): {evidence}",
    ),
    "svc.new_item": ("来自 {source} 的新相关内容：{excerpt}{more}", "new matching item from {source}: {excerpt}{more}"),
    "svc.more": ("，另有 {n} 条", " and {n} more"),
    "svc.not_firing": (
        "规则已不再触发；处理完清单后请解决事件",
        "the rule is no longer firing; resolve the incident once the checklist is handled",
    ),
    "console.to": ("提醒", "to"),
    "console.chart": (
        "（事件 #{id} 的走势图：{n} 字节，见 Slack）",
        "(chart of incident #{id}: {n} bytes, shown in Slack)",
    ),
    "chart.comment": ("指标走势", "metric chart"),
    # reminders and escalations
    "sla.remind": (
        "{minutes} 分钟仍未确认：再次提醒 {who}",
        "still not acknowledged after {minutes} min: reminding {who}",
    ),
    "sla.escalate": ("{minutes} 分钟未确认：升级给 {who}", "not acknowledged after {minutes} min: escalating to {who}"),
    "dm.summary": (
        ":rotating_light: *事件 #{id} 需要你处理*（{role}）：{title}，{severity}，{status}。",
        ":rotating_light: *Incident #{id} needs you* ({role}): {title}, {severity}, {status}.",
    ),
    "dm.fallback": ("事件 #{id} 需要你处理（{role}）：{title}", "Incident #{id} needs you ({role}): {title}"),
    "dm.act": (
        "请在事件线程中确认（或运行 `crisismon incident ack {id}`）。",
        "Acknowledge it in the incident's thread (or `crisismon incident ack {id}`).",
    ),
    "sla.overdue": ("{n} 项逾期：", "{n} overdue item(s):"),
    "sla.item": ("• {text} — {who}", "• {text} — {who}"),
    "sla.due": ("，截止 {time}", ", due {time}"),
    # statements
    "stmt.submitted": (
        "📝 {who} 提交了{kind}（第 {version} 版），待 {roles} 审批：",
        "📝 {who} submitted the {kind} (version {version}) for approval by {roles}:",
    ),
    "stmt.approved_by": ("{who}（{role}）批准了{kind}", "{who} ({role}) approved the {kind}"),
    "stmt.approved": (
        "✅ {kind}已获全部批准（第 {version} 版）。crisismon 不会发布，请由发言人发布。",
        "✅ The {kind} is approved (version {version}). crisismon does not publish it: the spokesperson does.",
    ),
    "stmt.returned": ("↩️ {who}（{role}）退回了{kind}：{comment}", "↩️ {who} ({role}) returned the {kind}: {comment}"),
    # refusals and replies (ephemeral)
    "err.unknown_user": (
        "你不在值班名单（roster）中，不能在 Slack 中操作事件。请联系管理员把你的 Slack ID {user} 加入名单。",
        "You are not in the roster, so you cannot act on incidents from Slack. "
        "Ask an admin to add your Slack id {user}.",
    ),
    "err.no_incident": ("没有事件 #{id}。", "There is no incident #{id}."),
    "err.stale": (
        "事件 #{id} 在你打开这个窗口后已变为{status}，没有做任何更改。请重新打开。",
        "Incident #{id} became {status} after you opened this window; nothing was changed. Open it again.",
    ),
    "err.no_item": (
        "事件 #{id} 已没有清单项 {item}，没有做任何更改。",
        "Incident #{id} no longer has checklist item {item}; nothing was changed.",
    ),
    "err.too_long": (
        "内容有 {n} 个字符，超过上限 {limit}。没有做任何更改。",
        "The text has {n} characters, over the limit of {limit}; nothing was changed.",
    ),
    "err.mention": (
        "内容含有 Slack 提及语法（{found}），为安全起见未接受。请直接写名字。没有做任何更改。",
        "The text contains Slack mention syntax ({found}), which is not accepted; write names plainly. "
        "Nothing was changed.",
    ),
    "err.empty": ("内容不能为空。", "The text cannot be empty."),
    "err.not_in_roster": ("{user} 不在值班名单中，不能指派。", "{user} is not in the roster and cannot be assigned."),
    "err.refused": ("未执行：{reason}", "Not done: {reason}"),
    # lifecycle refusals (monitor.incidents.core.REFUSALS; English: its message as it is)
    "refuse.acknowledge": ("事件 #{id} 目前{status}{by}；只有未确认的事件可以确认", "{message}"),
    "refuse.stable": ("事件 #{id} 目前{status}；请先确认，再标记为已稳定", "{message}"),
    "refuse.resolve": ("事件 #{id} 已经是{status}状态", "{message}"),
    "refuse.close.closed": ("事件 #{id} 已经关闭", "{message}"),
    "refuse.close.open": ("事件 #{id} 从未被确认；请先确认并解决，或强制关闭", "{message}"),
    "refuse.close": ("事件 #{id} 目前{status}；请先解决，或强制关闭", "{message}"),
    "refuse.close_forced": ("事件 #{id} 已经关闭", "{message}"),
    "refuse.ticked": ("清单项 {item} 已由 {who} 完成", "{message}"),
    "refuse.not_ticked": ("清单项 {item} 尚未完成", "{message}"),
    "refuse.inactive": ("事件 #{id} 目前{status}，清单不能再更改", "{message}"),
    "refuse.no_item": ("事件 #{id} 没有清单项 {item}；现有清单项：{known}", "{message}"),
    "refuse.stmt_approved": ("{kind}已获批准（第 {version} 版）", "{message}"),
    "refuse.stmt_again": ("{who} 已批准过{kind}第 {version} 版", "{message}"),
    "refuse.stmt_inactive": ("事件 #{id} 目前{status}，不能再起草声明", "{message}"),
    "refuse.stmt_none": ("事件 #{id} 没有已提交的{kind}", "{message}"),
    "refuse.stmt_replaced": ("{kind}第 {version} 版已被第 {latest} 版取代，请审阅最新版本", "{message}"),
    "refuse.stmt_state": ("{kind}第 {version} 版目前{state}，不在待审批状态", "{message}"),
    "refuse.by": ("（确认人：{who}）", " by {who}"),
    "err.not_approver": (
        "只有 {roles} 可以审批声明；你的角色：{mine}。",
        "Only {roles} approve statements; your roles: {mine}.",
    ),
    "err.bad_request": ("无法处理该请求：{reason}", "Could not handle that request: {reason}"),
    "err.modal": ("无法打开窗口（{reason}），请再点一次。", "Could not open the window ({reason}); click again."),
    "err.silences_off": ("此处未启用静默功能。", "Silences are not available here."),
    "ok.done": ("已完成：{what}", "Done: {what}"),
    # slash command
    "cmd.usage": (
        "用法：`/crisis list` · `/crisis show <编号>` · `/crisis ack <编号>` · `/crisis resolve <编号>` · "
        "`/crisis note <编号> <内容>` · `/crisis silence <匹配条件> <时长> <说明>` · `/crisis silence list` · "
        "`/crisis silence expire <编号>`",
        "Usage: `/crisis list` · `/crisis show <id>` · `/crisis ack <id>` · `/crisis resolve <id>` · "
        "`/crisis note <id> <text>` · `/crisis silence <matchers> <duration> <comment>` · `/crisis silence list` · "
        "`/crisis silence expire <id>`",
    ),
    "cmd.none_active": ("目前没有进行中的事件。", "No active incidents."),
    "cmd.active": ("进行中的事件（{n}）：", "Active incidents ({n}):"),
    "cmd.no_silences": ("目前没有生效的静默。", "No active silences."),
    "cmd.silences": ("生效的静默：", "Active silences:"),
    "cmd.silenced": ("已创建静默：{what}", "Silence created: {what}"),
    "cmd.expired": ("已结束静默：{what}", "Silence expired: {what}"),
    "cmd.opened_at": ("发生于 {time}", "opened {time}"),
    "cmd.checklist": ("清单：已完成 {done}/{total}", "checklist: {done}/{total} done"),
    "cmd.statements": ("声明：{items}", "statements: {items}"),
    # statement kinds
    "kit.holding": ("等待声明", "holding statement"),
    "kit.first_statement": ("首次公开声明", "first public statement"),
    "kit.cs_script": ("客服话术", "customer-service script"),
    "kit.media_qa": ("媒体问答", "media Q&A"),
    "kit.internal_briefing": ("内部通报", "internal briefing"),
    "stmt.state.submitted": ("待审批", "awaiting approval"),
    "stmt.state.returned": ("已退回", "returned"),
    "stmt.state.approved": ("已批准", "approved"),
}


@cache
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


@dataclass(frozen=True, slots=True)
class Lang:
    """Locale, time zone and whether bilingual texts show both sides."""

    locale: Locale = "en"
    timezone: str = "UTC"
    bilingual: bool = False

    def t(self, key: str, **fields: object) -> str:
        """The label ``key`` in this locale, with ``fields`` filled in."""
        zh, en = CATALOG[key]
        template = zh if self.locale == "zh-CN" else en
        return template.format(**fields) if fields else template

    def time(self, moment: datetime) -> str:
        """``2026-11-20 08:30 CST``: the moment in the configured zone, with the zone's abbreviation."""
        aware = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
        local = aware.astimezone(_zone(self.timezone))
        return local.strftime("%Y-%m-%d %H:%M ") + (local.tzname() or self.timezone)

    def clock(self, moment: datetime) -> str:
        """``08:30 CST``: the time of day only."""
        return self.time(moment)[11:]

    def pick(self, zh: str, en: str) -> str:
        """The locale's side of a bilingual text; both (``中文 / English``) when bilingual."""
        if self.bilingual and zh and en and zh != en:
            return f"{zh} / {en}"
        if self.locale == "zh-CN":
            return zh or en
        return en or zh

    def reason(self, error: Exception) -> str:
        """Why something was refused, in this locale: an error with a catalog ``key`` and
        ``fields`` (e.g. ``monitor.incidents.core.LifecycleRefusal``) is said in the locale's
        words (status words and names filled in); anything else, and English, as its message."""
        key, fields = getattr(error, "key", None), getattr(error, "fields", None)
        if self.locale == "en" or not isinstance(key, str) or key not in CATALOG or not isinstance(fields, dict):
            return str(error)
        filled = dict(fields)
        if "status" in filled:
            filled["status"] = self.word(str(filled["status"]))
        for field, prefix in (("kind", "kit"), ("state", "stmt.state")):
            if f"{prefix}.{filled.get(field)}" in CATALOG:
                filled[field] = self.t(f"{prefix}.{filled[field]}")
        by = filled.get("by")
        filled["by"] = self.t("refuse.by", who=by) if by else ""
        return self.t(key, **filled, message=str(error))

    def role(self, role: str) -> str:
        """How the team calls a roster role: its Chinese name in zh-CN, its id in English (``crisis_lead``)."""
        return role_name(role, self.locale) if self.locale == "zh-CN" else role

    def status(self, status: str) -> str:
        """The status with its emoji (``👀 已确认``)."""
        return self.t(f"status.{status}")

    def severity(self, severity: str) -> str:
        """``SEV2 (high)``, in zh-CN ``SEV2 (高)``: the rule files' severity name in the locale."""
        word = self.t(f"sev.{severity}") if f"sev.{severity}" in CATALOG else severity
        return f"{SEV_LABEL.get(severity, 'SEV?')} ({word})"

    def word(self, status: str) -> str:
        """The bare status word (``已确认``)."""
        return self.t(f"word.{status}")


ENGLISH = Lang()


def describe_evidence(evidence: Evidence, lang: Lang) -> str:
    """What crossed what, in the locale (English: :meth:`Evidence.describe` as it always was)."""
    if lang.locale == "en" or evidence.note:
        return evidence.describe()
    e, n = evidence, fmt_num
    if e.kind == "immediate":
        return f"{e.window} 内有 {n(e.value)} 条需立即处理的报告（至少需要 {n(e.threshold or 1)} 条）"
    if e.kind == "spike" and e.baseline is not None:
        ratio = f"（{e.ratio:.1f} 倍）" if e.ratio is not None else ""
        return f"{e.metric} 在 {e.window} 内为 {n(e.value)}，基线 {n(e.baseline)}{ratio}"
    if e.kind == "anomaly" and e.baseline is not None:
        z = f"，z={e.zscore:.1f}" if e.zscore is not None else ""
        return f"{e.metric} 在 {e.window} 内为 {n(e.value)}，预期 {n(e.baseline)}{z}"
    return f"{e.metric} 在 {e.window} 内为 {n(e.value)} {e.op} {n(e.threshold or 0)}"
