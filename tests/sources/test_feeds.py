from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor.models import stable_id
from monitor.sources.feeds import (
    JsonMapping,
    choose_charset,
    get_path,
    html_to_text,
    parse_body,
    parse_feed,
    parse_json,
    parse_json_feed,
    rsshub_url,
)

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
DATA = Path(__file__).parent / "data"
RSS_HEADERS = {"Content-Type": "application/rss+xml; charset=utf-8"}


def rss(items: str, encoding: str = "utf-8") -> str:
    return (
        f'<?xml version="1.0" encoding="{encoding}"?>\n'
        f'<rss version="2.0"><channel><title>News</title><link>https://news.example/</link>'
        f"{items}</channel></rss>"
    )


ITEM_GUID = """<item><title>某品牌手机 起火</title><link>https://news.example/1</link>
<guid isPermaLink="false">news-1</guid><pubDate>Mon, 06 May 2024 16:30:00 +0800</pubDate>
<description>&lt;p&gt;据报道，&lt;b&gt;某品牌&lt;/b&gt;手机
   在充电时起火。&lt;/p&gt;&lt;script&gt;alert(1)&lt;/script&gt;</description></item>"""
ITEM_NO_GUID = """<item><title>召回通知</title><link>https://news.example/2</link>
<description>某品牌宣布召回 &amp;amp; 赔偿</description></item>"""


# --------------------------------------------------------------------------- RSS / Atom


def test_rss_items() -> None:
    result = parse_feed(rss(ITEM_GUID + ITEM_NO_GUID).encode(), RSS_HEADERS, "news", NOW)
    assert result.errors == []
    first, second = result.items
    assert first.source == "news" and first.kind == "post"
    assert first.id == "news-1"
    assert first.title == "某品牌手机 起火"
    assert first.text == "某品牌手机 起火 据报道，某品牌手机 在充电时起火。"
    assert first.url == "https://news.example/1"
    assert first.published_at == datetime(2024, 5, 6, 8, 30, tzinfo=UTC)
    assert second.id == stable_id("https://news.example/2", "召回通知")
    assert second.text == "召回通知 某品牌宣布召回 & 赔偿"
    assert second.published_at == NOW


def test_atom_content_and_updated() -> None:
    atom = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title><id>urn:feed</id>
<entry><id>urn:e1</id><title type="html">&lt;em&gt;质量&lt;/em&gt;问题</title>
<updated>2024-05-06T08:00:00Z</updated><link href="https://a.example/e1"/>
<summary>短</summary><content type="html">&lt;div&gt;完整&lt;br/&gt;内容&lt;/div&gt;</content></entry>
</feed>"""
    result = parse_feed(atom.encode(), {"content-type": "application/atom+xml"}, "a", NOW)
    (item,) = result.items
    assert item.id == "urn:e1"
    assert item.title == "质量问题"
    assert item.text == "质量问题 完整 内容"
    assert item.published_at == datetime(2024, 5, 6, 8, tzinfo=UTC)


def test_ill_formed_feed_keeps_salvaged_entries() -> None:
    broken = rss(ITEM_GUID + ITEM_NO_GUID).replace("</channel></rss>", "<item><title>半")
    result = parse_feed(broken.encode(), RSS_HEADERS, "news", NOW)
    assert [i.title for i in result.items] == ["某品牌手机 起火", "召回通知"]
    assert result.errors[0].startswith("ill-formed feed (SAXParseException: ")
    assert "kept 2 entries" in result.errors[0]
    assert result.errors[1:] == ["entry 3 has no title, text or link; skipped"]


def test_html_page_is_not_a_feed() -> None:
    page = b"<!DOCTYPE html><html><head><title>503</title></head><body>Busy</body></html>"
    result = parse_feed(page, {"content-type": "text/html"}, "x", NOW)
    assert result.items == []
    assert result.errors[0].startswith("not an RSS/Atom feed")


def test_empty_body_and_empty_feed() -> None:
    assert parse_feed(b"  \n", RSS_HEADERS, "x", NOW).errors == ["empty body: the server sent no feed"]
    empty = parse_feed(rss("").encode(), RSS_HEADERS, "x", NOW)
    assert empty.items == [] and empty.errors == []


def test_feed_served_as_text_html_is_read_quietly() -> None:
    result = parse_feed(rss(ITEM_GUID).encode(), {"content-type": "text/html; charset=utf-8"}, "x", NOW)
    assert len(result.items) == 1 and result.errors == []


def test_entry_without_anything_is_reported() -> None:
    result = parse_feed(rss("<item><author>x</author></item>" + ITEM_GUID).encode(), RSS_HEADERS, "x", NOW)
    assert len(result.items) == 1
    assert result.errors == ["entry 1 has no title, text or link; skipped"]


def test_bytes_that_look_like_a_path_are_not_opened() -> None:
    result = parse_feed(b"/etc/hostname", {}, "x", NOW)
    assert result.items == [] and result.errors


# --------------------------------------------------------------------------- encodings

GBK_ONLY = "朱镕基视察 某品牌 喆"  # 镕 and 喆 are in GBK but not in GB2312


@pytest.mark.parametrize(
    "content_type",
    [
        "text/xml",
        "application/rss+xml",
        "application/rss+xml; charset=utf-8",
        "text/html; charset=ISO-8859-1",
    ],
)
def test_gbk_body_declared_gb2312(content_type: str) -> None:
    body = rss(f"<item><title>{GBK_ONLY}</title><link>http://a/1</link></item>", "gb2312").encode("gbk")
    result = parse_feed(body, {"Content-Type": content_type}, "x", NOW)
    assert result.items[0].title == GBK_ONLY


def test_header_charset_disagreeing_with_declaration_is_recorded() -> None:
    body = rss("<item><title>某品牌</title><link>http://a/1</link></item>", "gb2312").encode("gb2312")
    result = parse_feed(body, {"Content-Type": "application/xml; charset=utf-8"}, "x", NOW)
    assert result.items[0].title == "某品牌"
    assert len(result.errors) == 1 and "charset" in result.errors[0] and "gb2312" in result.errors[0]


def test_utf8_body_with_gbk_header() -> None:
    body = rss("<item><title>某品牌手机质量问题</title><link>http://a/1</link></item>").encode()
    result = parse_feed(body, {"Content-Type": "text/xml; charset=gbk"}, "x", NOW)
    assert result.items[0].title == "某品牌手机质量问题"


def test_big5_and_its_microsoft_extensions() -> None:
    title = "某品牌手機品質問題 碁"  # 碁 is Big5; fine in cp950 too
    body = rss(f"<item><title>{title}</title><link>http://a/1</link></item>", "big5").encode("cp950")
    result = parse_feed(body, {"Content-Type": "text/xml"}, "x", NOW)
    assert result.items[0].title == title


def test_gb18030_declared_and_served() -> None:
    title = "某品牌 𠀀 扩展字"
    body = rss(f"<item><title>{title}</title><link>http://a/1</link></item>", "gb18030").encode("gb18030")
    result = parse_feed(body, {"Content-Type": "application/rss+xml; charset=GB18030"}, "x", NOW)
    assert result.items[0].title == title and result.errors == []


def test_undeclared_utf8_under_text_plain() -> None:
    body = rss("<item><title>某品牌</title><link>http://a/1</link></item>").encode()
    body = body.replace(b' encoding="utf-8"', b"")
    result = parse_feed(body, {"Content-Type": "text/plain"}, "x", NOW)
    assert result.items[0].title == "某品牌"


def test_choose_charset_leaves_ascii_and_boms_to_feedparser() -> None:
    assert choose_charset(b"<rss/>", "text/xml; charset=gbk") == (None, None)
    assert choose_charset("\ufeff<rss>某</rss>".encode("utf-16"), "") == (None, None)
    assert choose_charset("<rss>某</rss>".encode(), "") == ("utf-8", None)
    charset, note = choose_charset(b"<rss>\xff\xfe\xfd</rss>", "")
    assert charset is None and note is not None and "garbled" in note


def test_undeclared_chinese_is_recognised() -> None:
    simplified = "<rss>某品牌的产品质量问题引起了消费者的投诉，公司表示将调查。</rss>"
    traditional = "<rss>某品牌的產品質量問題引起了消費者的投訴，公司表示將調查。</rss>"
    assert choose_charset(simplified.encode("gbk"), "")[0] == "gb18030"
    assert choose_charset(traditional.encode("big5"), "")[0] == "cp950"
    assert choose_charset(simplified.encode("gbk"), "text/xml; charset=iso-8859-1")[0] == "gb18030"
    french = "<rss>Le problème de qualité du produit a suscité des plaintes à Noël.</rss>"
    assert choose_charset(french.encode("latin-1"), "text/xml; charset=iso-8859-1") == ("cp1252", None)


# --------------------------------------------------------------------------- plain text


@pytest.mark.parametrize(
    ("markup", "text"),
    [
        ("<p>a</p><p>b</p>", "a b"),
        ("a&nbsp;&amp;&lt;b&gt;", "a &<b>"),
        ("x<style>p{}</style>y<script>z()</script>", "xy"),
        ("  多个\n\t空白  ", "多个 空白"),
        ("line<br>break", "line break"),
        ("unclosed <b>bold", "unclosed bold"),
    ],
)
def test_html_to_text(markup: str, text: str) -> None:
    assert html_to_text(markup) == text


# --------------------------------------------------------------------------- JSON Feed

JSON_FEED = {
    "version": "https://jsonfeed.org/version/1.1",
    "title": "RSSHub 微博关键词",
    "items": [
        {
            "id": "https://weibo.com/1/abc",
            "url": "https://weibo.com/1/abc",
            "title": "某品牌 投诉",
            "content_html": "<p>客服<b>不回复</b></p>",
            "date_published": "2024-05-06T16:30:00+08:00",
        },
        {"id": 42, "content_text": "纯文本内容", "date_modified": "2024-05-06T08:00:00Z"},
        {"url": "https://x.example/3", "summary": "只有摘要", "date_published": "yesterday"},
        "not an object",
        {"id": "empty"},
    ],
}


def test_json_feed() -> None:
    result = parse_json_feed(json.dumps(JSON_FEED).encode(), {}, "wb", NOW)
    first, second, third = result.items
    assert first.id == "https://weibo.com/1/abc"
    assert first.text == "某品牌 投诉 客服不回复"
    assert first.published_at == datetime(2024, 5, 6, 8, 30, tzinfo=UTC)
    assert second.id == "42" and second.text == "纯文本内容"
    assert second.published_at == datetime(2024, 5, 6, 8, tzinfo=UTC)
    assert third.id == stable_id("https://x.example/3", "") and third.published_at == NOW
    assert len(result.errors) == 3
    assert "yesterday" in result.errors[0]
    assert "item 4 is not an object" in result.errors[1]
    assert "item 5 has no title" in result.errors[2]


def test_json_feed_problems_are_summarized() -> None:
    doc = {"version": "https://jsonfeed.org/version/1.1", "items": [1] * 10}
    errors = parse_json_feed(json.dumps(doc).encode(), {}, "x", NOW).errors
    assert len(errors) == 4 and errors[-1] == "... and 7 more like these"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "invalid JSON"),
        (b'{"items": 3}', "not a JSON Feed"),
        (b"[]", "not a JSON Feed"),
    ],
)
def test_json_feed_errors(body: bytes, message: str) -> None:
    result = parse_json_feed(body, {}, "x", NOW)
    assert result.items == [] and message in result.errors[0]


def test_json_in_gbk() -> None:
    body = json.dumps(JSON_FEED, ensure_ascii=False).encode("gb18030")
    result = parse_json_feed(body, {"content-type": "application/json; charset=gbk"}, "x", NOW)
    assert result.items[0].title == "某品牌 投诉"


# --------------------------------------------------------------------------- generic JSON

WEIBO = JsonMapping(
    items_path="data.cards",
    id="mblog.id",
    title=None,
    text="mblog.text",
    url=None,
    url_template="https://m.weibo.cn/detail/{mblog.id}",
    published="mblog.created_at",
    attrs={"author": "mblog.user.screen_name"},
)
ZHIHU = JsonMapping(
    items_path="data",
    id="object.id",
    title="object.title",
    text="object.excerpt",
    url="object.url",
    published="object.created_time",
    published_format="auto",
)


def test_weibo_mapping() -> None:
    result = parse_json((DATA / "weibo_search.json").read_bytes(), {}, "weibo", NOW, WEIBO)
    first, second, third = result.items
    assert first.id == "5031234567890123"
    assert first.text == "某品牌手机充电时起火了，太吓人了！ #某品牌质量问题# @小王"
    assert first.url == "https://m.weibo.cn/detail/5031234567890123"
    assert first.published_at == datetime(2024, 5, 4, 4, 0, tzinfo=UTC)
    assert first.attrs == {"author": "消费者小李"}
    assert second.published_at == datetime(2024, 5, 4, 4, 5, 30, tzinfo=UTC)
    assert third.published_at == NOW
    assert result.errors == [
        "item 3: no title, text or url at the mapped paths; skipped",
        "cannot read time '3分钟前' as auto; used the fetch time",
    ]


def test_zhihu_mapping_epoch_seconds_and_millis() -> None:
    result = parse_json((DATA / "zhihu_search.json").read_bytes(), {}, "zhihu", NOW, ZHIHU)
    question, answer = result.items
    assert question.title == "如何看待某品牌手机电池鼓包事件？"
    assert question.text == "如何看待某品牌手机电池鼓包事件？ 最近很多用户反映某品牌手机电池鼓包……"
    assert question.published_at == datetime.fromtimestamp(1714960000, UTC)
    assert answer.published_at == datetime.fromtimestamp(1714963600, UTC)
    assert answer.url is None and answer.id == "3456789012"
    assert result.errors == []


def test_mapping_with_local_times_and_pattern() -> None:
    mapping = JsonMapping(
        items_path="", text="content", published="time", published_format="%Y-%m-%d %H:%M:%S",
        timezone="Asia/Shanghai",
    )  # fmt: skip
    body = json.dumps([{"id": 1, "content": "某品牌", "time": "2024-05-06 16:30:00", "cat": "售后"}]).encode()
    (item,) = parse_json(body, {}, "x", NOW, mapping).items
    assert item.published_at == datetime(2024, 5, 6, 8, 30, tzinfo=UTC)
    assert item.id == "1" and item.category is None
    (item,) = parse_json(body, {}, "x", NOW, mapping.model_copy(update={"category": "cat"})).items
    assert item.category == "售后"


def test_mapping_items_path_missing() -> None:
    result = parse_json(b'{"data": {}}', {}, "x", NOW, JsonMapping(items_path="data.items"))
    assert result.errors == ["items_path: no list at 'data.items' in the JSON response"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"published_format": "unix"}, "published_format"),
        ({"timezone": "Beijing"}, "timezone"),
        ({"text": None, "title": None}, "text or a title"),
    ],
)
def test_mapping_rejects_bad_config(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        JsonMapping(**kwargs)  # type: ignore[arg-type]


def test_get_path() -> None:
    doc = {"a": {"b": [{"c": 1}, {"c": 2}]}}
    assert get_path(doc, "a.b.1.c") == 2
    assert get_path(doc, "a.b.5.c") is None
    assert get_path(doc, "a.x") is None
    assert get_path(doc, "") is doc


# --------------------------------------------------------------------------- dispatch


def test_auto_detects_json_feed_and_rss() -> None:
    body = json.dumps(JSON_FEED).encode()
    assert len(parse_body(body, {"content-type": "application/feed+json"}, "x", NOW).items) == 3
    assert len(parse_body(rss(ITEM_GUID).encode(), {}, "x", NOW).items) == 1


def test_auto_json_without_mapping_says_what_to_do() -> None:
    result = parse_body(b'{"data": []}', {"content-type": "application/json"}, "x", NOW)
    assert "configure type json with a mapping" in result.errors[0]


def test_auto_with_mapping_uses_it_for_json() -> None:
    body = (DATA / "zhihu_search.json").read_bytes()
    assert len(parse_body(body, {}, "x", NOW, "auto", ZHIHU).items) == 2
    assert parse_body(body, {}, "x", NOW, "json", None).errors


# --------------------------------------------------------------------------- RSSHub


@pytest.mark.parametrize(
    ("instance", "route", "fmt", "url"),
    [
        (
            "https://rsshub.app",
            "/weibo/keyword/某品牌",
            None,
            "https://rsshub.app/weibo/keyword/%E6%9F%90%E5%93%81%E7%89%8C",
        ),
        (
            "https://rss.example.com/hub/",
            "zhihu/search/某品牌 电池",
            "json",
            "https://rss.example.com/hub/zhihu/search/%E6%9F%90%E5%93%81%E7%89%8C%20%E7%94%B5%E6%B1%A0?format=json",
        ),
        (
            "http://127.0.0.1:1200",
            "/weibo/keyword/%E6%9F%90?limit=10&format=rss",
            "atom",
            "http://127.0.0.1:1200/weibo/keyword/%E6%9F%90?limit=10&format=atom",
        ),
        ("https://rsshub.app", "/weibo/user/1195230310", None, "https://rsshub.app/weibo/user/1195230310"),
        ("https://rsshub.app", "/search/a/b?q=某", None, "https://rsshub.app/search/a/b?q=%E6%9F%90"),
        ("https://rsshub.app", "/x/100%/y#z", None, "https://rsshub.app/x/100%25/y%23z"),
    ],
)
def test_rsshub_url(instance: str, route: str, fmt: str | None, url: str) -> None:
    assert rsshub_url(instance, route, fmt) == url


@pytest.mark.parametrize(
    ("instance", "route", "fmt"),
    [("rsshub.app", "/a", None), ("https://rsshub.app", "/", None), ("https://rsshub.app", "/a", "xml")],
)
def test_rsshub_url_rejects(instance: str, route: str, fmt: str | None) -> None:
    with pytest.raises(ValueError):
        rsshub_url(instance, route, fmt)
