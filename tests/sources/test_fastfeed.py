"""The fast RSS/Atom path gives exactly feedparser's result, or declines.

For every file of the shared feeds-dev corpus (with several header sets) and for generated
feeds, ``parse_fast`` must be None or equal to ``parse_feed_slow`` (feedparser). On the
bench's feed shape and on the generated well-formed feeds it must not decline: a fast path
that always declines would pass the equivalence tests and speed nothing up.
"""

from __future__ import annotations

import importlib.util
import random
import re
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType

import pytest

from monitor.models import FetchResult
from monitor.sources.fastfeed import parse_fast
from monitor.sources.feeds import parse_body, parse_feed, parse_feed_slow

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT.parent / "shared" / "data" / "feeds-dev"
CORPUS_FILES = sorted(CORPUS.rglob("*.xml")) if CORPUS.is_dir() else []
HEADER_LINE = re.compile(r"^\s*Header:\s*([A-Za-z-]+):\s*(.*?)\s*$", re.MULTILINE)
NOW = datetime(2024, 5, 6, 12, 0, tzinfo=UTC)
RSS_UTF8 = {"Content-Type": "application/rss+xml; charset=utf-8"}
ATOM_UTF8 = {"content-type": "application/atom+xml; charset=utf-8"}


def both(body: bytes, headers: dict[str, str]) -> tuple[FetchResult | None, FetchResult]:
    return parse_fast(body, headers, "src", NOW), parse_feed_slow(body, headers, "src", NOW)


def assert_same_or_declined(body: bytes, headers: dict[str, str]) -> bool:
    """True when the fast path handled ``body`` (and then matched feedparser)."""
    fast, slow = both(body, headers)
    if fast is None:
        return False
    assert fast == slow, (body[:300], headers)
    return True


def assert_handled(body: bytes, headers: dict[str, str]) -> FetchResult:
    fast, slow = both(body, headers)
    assert fast is not None, body.decode("utf-8", "replace")[:500]
    assert fast == slow, body.decode("utf-8", "replace")[:500]
    return fast


# --------------------------------------------------------------------------- the corpus


def simulated_headers(data: bytes) -> dict[str, str]:
    """The ``Header:`` comment lines of a feedparser test file (which may be UTF-16/32)."""
    text = data.decode("latin-1")
    if b"\x00" in data[:8]:
        for encoding in ("utf-32", "utf-16", "utf-16-le", "utf-16-be"):
            try:
                text = data.decode(encoding)
                break
            except UnicodeDecodeError:
                continue
    return {name: value for name, value in HEADER_LINE.findall(text)}


@pytest.mark.skipif(not CORPUS_FILES, reason=f"{CORPUS} is absent (the shared feeds-dev corpus)")
def test_corpus_fast_path_matches_feedparser_or_declines() -> None:
    handled: dict[str, int] = {}
    for path in CORPUS_FILES:
        data = path.read_bytes()
        header_sets = [simulated_headers(data), {}, RSS_UTF8, {"content-type": "text/xml"}]
        for headers in header_sets:
            if assert_same_or_declined(data, headers):
                name = path.relative_to(CORPUS).as_posix()
                handled[name] = handled.get(name, 0) + 1
    # most well-formed RSS files go fast; the corpus's Atom files are Atom 0.3 (declined);
    # of the ill-formed ones only those that are well-formed XML in a charset choose_charset
    # settles (big5.xml) may go fast
    rss = [p.relative_to(CORPUS).as_posix() for p in CORPUS_FILES if "wellformed" in p.parts and "rss" in p.parts]
    assert sum(1 for name in rss if name in handled) >= len(rss) * 2 // 3, sorted(handled)
    assert not any(name.startswith("wellformed/atom/") for name in handled)
    assert len(handled) >= 20, sorted(handled)


def test_corpus_counts_are_reported(capsys: pytest.CaptureFixture[str]) -> None:
    """Prints how many corpus files go fast (run with -s to see it); some must."""
    if not CORPUS_FILES:
        pytest.skip(f"{CORPUS} is absent")
    fast = [p for p in CORPUS_FILES if parse_fast(p.read_bytes(), simulated_headers(p.read_bytes()), "s", NOW)]
    print(f"\nfeeds-dev: {len(fast)} of {len(CORPUS_FILES)} files parsed by the fast path (simulated headers)")
    assert fast, "no corpus file goes the fast path with its simulated headers"
    for path in fast:
        print("  fast:", path.relative_to(CORPUS).as_posix())


# --------------------------------------------------------------------------- the bench shape


def load_bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_poll", ROOT / "bench" / "poll.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_bench_feed_shape_is_handled_fast() -> None:
    bench = load_bench()
    for index in (0, 7, 59, 999):
        body = bench.render_feed(index, 20)
        result = assert_handled(body, {"content-type": "application/rss+xml; charset=utf-8"})
        assert len(result.items) == 20 and not result.errors
        assert result.items[0].text.startswith(f"第{index}-0条")
    # and through the public entry points, as the poller calls them
    body = bench.render_feed(3, 20)
    assert parse_feed(body, RSS_UTF8, "src", NOW) == parse_feed_slow(body, RSS_UTF8, "src", NOW)
    assert parse_body(body, RSS_UTF8, "src", NOW, "rss") == parse_feed_slow(body, RSS_UTF8, "src", NOW)


# --------------------------------------------------------------------------- generated RSS

ZH = ("某品牌手机在充电时发生起火事件", "客服电话一直打不通", "公司发布声明称将全面调查", "多地用户反映电池鼓包")

RSS_TITLES = (
    "<title>{zh}</title>",
    "<title>  {zh}：第{n}条  </title>",
    "<title>{zh} &amp; 售后 &lt;通报&gt;</title>",
    "<title>&lt;b&gt;{zh}&lt;/b&gt;</title>",  # looks like HTML: feedparser switches to text/html
    "<title><![CDATA[{zh} <i>突发</i>]]></title>",
    "<title>&#25105;们 {zh} &#x4E2D;</title>",
    "<title>AT&amp;T &amp;amp; {zh}</title>",
    "<title></title>",
    "<title>Ã©tÃ© {zh}</title>",  # mojibake: feedparser's latin-1 -> utf-8 repair
    "<title>quote &#150; dash {zh}</title>",  # a C1 control: feedparser's cp1252 mapping
    "",
)
RSS_LINKS = (
    "<link>https://news.example/a/{n}</link>",
    "<link> https://news.example/a/{n}?x=1&amp;y=2 </link>",
    "<link>https://news.example/a?x=1&amp;amp;y=2&amp;z;</link>",
    "<link>http:///news.example/{n}</link>",
    "<link>/relative/{n}</link>",
    "<link></link>",
    "",
    "",
)
RSS_GUIDS = (
    "<guid>n-{n}</guid>",
    '<guid isPermaLink="false">n-{n}</guid>',
    '<guid isPermaLink="true">https://news.example/p/{n}</guid>',
    "<guid>https://news.example/g/{n}</guid>",
    '<guid isPermaLink="True">https://news.example/t/{n}</guid>',
    "<guid>http:////news.example/{n}</guid>",
    "<guid>  </guid>",
    "",
    "",
)
RSS_DATES = (
    "<pubDate>Mon, 06 May 2024 10:{n2}:00 +0800</pubDate>",
    "<pubDate>Mon, 06 May 2024 10:{n2}:00 GMT</pubDate>",
    "<pubDate>Mon, 06 May 2024 10:{n2}:00 EST</pubDate>",
    "<pubDate>6 May 2024 23:{n2}:59 -0130</pubDate>",
    "<pubDate>Mon, 06 May 2024 10:{n2}:00</pubDate>",
    "<pubDate>2024-05-06T10:{n2}:00+08:00</pubDate>",
    "<pubDate>2024-05-06 10:{n2}</pubDate>",
    "<pubDate>昨天 10:{n2}</pubDate>",
    "<pubDate></pubDate>",
    "<dc:date>2024-05-06T10:{n2}:00Z</dc:date>",
    "<pubDate>Mon, 06 May 2024 10:{n2}:00 +0800</pubDate><dc:date>2023-01-01T00:00:00Z</dc:date>",
    "<pubDate>not a date</pubDate><dc:date>2024-05-06T10:{n2}:00+08:00</dc:date>",
    "",
)
RSS_DESCRIPTIONS = (
    "<description>&lt;p&gt;{zh}。&lt;/p&gt;&lt;p&gt;记者 {n}&lt;/p&gt;</description>",
    "<description><![CDATA[<p>{zh}</p><script>var x = 1;</script><br/>消费者&nbsp;表示]]></description>",
    "<description>{zh}，没有标记</description>",
    "<description>&lt;div&gt;a &amp;amp; b&lt;/div&gt;&amp;nbsp;{zh}</description>",
    "<description>{title_text}</description>",
    "<description><![CDATA[<img src='x.png'>]]></description>",
    "<description></description>",
    "",
)
RSS_CONTENTS = (
    "<content:encoded><![CDATA[<p>全文：{zh}</p><p>更多</p>]]></content:encoded>",
    "<content:encoded>&lt;p&gt;{zh}&lt;/p&gt;</content:encoded>",
    "<content:encoded><![CDATA[<img src='a.png'/>]]></content:encoded>",
    "<content:encoded></content:encoded>",
    "",
    "",
    "",
)
RSS_EXTRAS = (
    '<category domain="https://news.example/c">质量</category>',
    "<category>投诉</category><category>电池</category>",
    "<author>editor@news.example (编辑)</author>",
    "<dc:creator>记者 王五</dc:creator>",
    "<dc:subject>召回</dc:subject>",
    '<enclosure url="https://news.example/a.mp3" length="123" type="audio/mpeg"/>',
    "<comments>https://news.example/c/{n}</comments>",
    '<source url="https://other.example/rss">其他来源</source>',
    "<!-- a comment -->",
)


def rss_item(rng: random.Random, n: int) -> str:
    zh = rng.choice(ZH)
    title = rng.choice(RSS_TITLES).format(zh=zh, n=n)
    title_text = zh  # a description equal to (or starting with) the title
    parts = [
        title,
        rng.choice(RSS_LINKS).format(n=n),
        rng.choice(RSS_GUIDS).format(n=n),
        rng.choice(RSS_DATES).format(n2=f"{n % 60:02d}"),
        rng.choice(RSS_DESCRIPTIONS).format(zh=zh, n=n, title_text=title_text),
        rng.choice(RSS_CONTENTS).format(zh=zh),
        *rng.sample(RSS_EXTRAS, rng.randint(0, 3)),
    ]
    parts = [p.replace("{n}", str(n)) for p in parts if p]
    rng.shuffle(parts)
    return "<item>" + "\n  ".join(parts) + "</item>"


def rss_feed(items: list[str], *, decl: str = '<?xml version="1.0" encoding="utf-8"?>\n', rss_attrs: str = "") -> str:
    return (
        f'{decl}<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/" '
        f'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:atom="http://www.w3.org/2005/Atom"{rss_attrs}>\n'
        "<channel><title>新闻源</title><link>https://news.example/</link>"
        '<atom:link href="https://news.example/rss" rel="self" type="application/rss+xml"/>'
        "<description>频道 &amp; 描述</description><language>zh-cn</language>"
        "<image><url>https://news.example/logo.png</url><title>标志</title><link>https://news.example/</link></image>\n"
        + "\n".join(items)
        + "\n</channel></rss>"
    )


@pytest.mark.parametrize("seed", range(40))
def test_generated_rss_is_handled_and_matches(seed: int) -> None:
    rng = random.Random(seed)
    items = [rss_item(rng, seed * 100 + i) for i in range(rng.randint(1, 12))]
    body = rss_feed(items).encode()
    for headers in (RSS_UTF8, {}, {"content-type": "text/xml"}, {"Content-Type": "text/html; charset=UTF-8"}):
        assert_handled(body, headers)


def test_every_rss_variant_is_exercised() -> None:
    """Each variant alone, in both orders against the others it interacts with."""
    for group in (RSS_TITLES, RSS_LINKS, RSS_GUIDS, RSS_DATES, RSS_DESCRIPTIONS, RSS_CONTENTS, RSS_EXTRAS):
        for variant in group:
            snippet = variant.format(zh=ZH[0], n=1, n2="07", title_text=ZH[0]).replace("{n}", "1")
            base = "<title>标题</title><link>https://news.example/a/1</link>"
            if group in (RSS_TITLES, RSS_LINKS):  # a second title or link is declined
                base = "<guid>https://news.example/g/1</guid><description>正文</description>"
            for item in (f"<item>{snippet}</item>", f"<item>{base}{snippet}</item>", f"<item>{snippet}{base}</item>"):
                assert_handled(rss_feed([item]).encode(), RSS_UTF8)


def test_guid_and_link_order() -> None:
    items = [
        "<item><guid>https://a.example/1</guid><title>一</title></item>",
        "<item><guid>https://a.example/2</guid><link>https://b.example/2</link></item>",
        "<item><link>https://b.example/3</link><guid>https://a.example/3</guid></item>",
        "<item><guid>https://a.example/4</guid><link></link><title>四</title></item>",
        '<item><guid isPermaLink="false">https://a.example/5</guid><title>五</title></item>',
        "<item><title>六</title></item>",
        "<item><description>只有描述</description></item>",
        "<item><category>空条目</category></item>",  # no title, text or link: skipped, with a problem
    ]
    result = assert_handled(rss_feed(items).encode(), RSS_UTF8)
    urls = [i.url for i in result.items]
    assert urls == ["https://a.example/1", "https://b.example/2", "https://b.example/3", None, None, None, None]
    assert result.errors == ["entry 8 has no title, text or link; skipped"]


def test_rss_charsets() -> None:
    items = [rss_item(random.Random(i), i) for i in range(5)]
    text = rss_feed(items, decl='<?xml version="1.0" encoding="gb2312"?>\n')
    body = text.encode("gb18030")
    assert_handled(body, {})
    assert_handled(body, {"content-type": "application/rss+xml; charset=gbk"})
    assert_handled(body, {"content-type": "text/xml; charset=gb2312"})
    # a UTF-8 body the header calls GBK: read as UTF-8, with a note in both paths
    result = assert_handled(rss_feed(items).encode(), {"content-type": "application/rss+xml; charset=gbk"})
    assert result.errors and result.errors[0].startswith("charset:")
    # ASCII only, entities for everything else
    ascii_body = rss_feed(items).encode("ascii", "xmlcharrefreplace")
    for headers in ({}, {"content-type": "text/xml"}, {"content-type": "text/plain"}, {"x-other": "1"}):
        assert_handled(ascii_body, headers)


# --------------------------------------------------------------------------- generated Atom

ATOM_IDS = ("<id>urn:uuid:{n}</id>", "<id>tag:news.example,2024:{n}</id>", "<id>https://news.example/e/{n}</id>", "")
ATOM_TITLES = (
    "<title>{zh}</title>",
    '<title type="text">{zh} &lt;b&gt;不是标记&lt;/b&gt;</title>',
    '<title type="html">&lt;b&gt;{zh}&lt;/b&gt; &amp;amp; 更多</title>',
    '<title type="HTML"><![CDATA[<em>{zh}</em>]]></title>',
    "<title></title>",
    "",
)
ATOM_LINKS = (
    '<link href="https://news.example/a/{n}"/>',
    '<link rel="alternate" type="text/html" href="https://news.example/b/{n}?p=1&amp;q=2"/>',
    '<link rel="self" href="https://news.example/self/{n}"/><link rel="alternate" href="https://news.example/c/{n}"/>',
    '<link rel="alternate" href="https://news.example/d1/{n}"/><link rel="alternate" href="https://news.example/d2/{n}"/>',
    '<link rel="enclosure" type="audio/mpeg" href="https://news.example/e.mp3"/>',
    '<link rel="alternate" type="application/pdf" href="https://news.example/f.pdf"/>',
    '<link rel="related" href="https://news.example/r"/><link rel="alternate" type="application/xhtml+xml" '
    'href="https://news.example/x/{n}"/>',
    '<link href=""/>',
    "",
)
ATOM_TEXTS = (
    "<summary>{zh}，摘要</summary>",
    '<summary type="html">&lt;p&gt;{zh}&lt;/p&gt;</summary>',
    '<content type="html"><![CDATA[<p>全文 {zh}</p><style>p{{}}</style>]]></content>',
    "<content>{zh} 纯文本 &lt;p&gt;</content>",
    '<summary>摘要 {zh}</summary><content type="html">&lt;p&gt;全文 {zh}&lt;/p&gt;</content>',
    '<content type="text/html">&lt;p&gt;全文&lt;/p&gt;</content><summary type="html">&lt;i&gt;摘要&lt;/i&gt;</summary>',
    '<content type="html"><![CDATA[<img src="a.png">]]></content>',
    '<content type="text"></content><summary>备用摘要</summary>',
    "",
)
ATOM_DATES = (
    "<published>2024-05-06T10:{n2}:00+08:00</published><updated>2024-05-07T00:00:00Z</updated>",
    "<updated>2024-05-06T02:{n2}:00.123Z</updated>",
    "<published>2024-05-06T10:{n2}:00-05:00</published>",
    "<updated>2024-05-06</updated>",
    "<published>五月六日</published><updated>2024-05-06T10:{n2}:00Z</updated>",
    "<published>2024-13-45T99:99:99Z</published>",
    "",
)
ATOM_EXTRAS = (
    "<author><name>王五</name><email>w@news.example</email><uri>https://news.example/w</uri></author>",
    "<contributor><name>赵六</name></contributor>",
    '<category term="质量" scheme="https://news.example/c" label="质量问题"/>',
    "<rights>© 2024 新闻</rights>",
    "<!-- comment -->",
)


def atom_entry(rng: random.Random, n: int) -> str:
    zh = rng.choice(ZH)
    parts = [
        rng.choice(ATOM_IDS),
        rng.choice(ATOM_TITLES).format(zh=zh),
        rng.choice(ATOM_LINKS),
        rng.choice(ATOM_TEXTS).format(zh=zh),
        rng.choice(ATOM_DATES).format(n2=f"{n % 60:02d}"),
        *rng.sample(ATOM_EXTRAS, rng.randint(0, 3)),
    ]
    parts = [p.replace("{n}", str(n)) for p in parts if p]
    rng.shuffle(parts)
    return "<entry>" + "\n  ".join(parts) + "</entry>"


def atom_feed(entries: list[str], *, prefix: str = "") -> str:
    p = f"{prefix}:" if prefix else ""
    ns = f"xmlns{':' + prefix if prefix else ''}"
    body = (
        f'<?xml version="1.0" encoding="utf-8"?>\n<{p}feed {ns}="http://www.w3.org/2005/Atom" xml:lang="zh-CN">'
        "<title>新闻源</title><id>urn:feed</id><updated>2024-05-06T00:00:00Z</updated>"
        '<link rel="self" href="https://news.example/atom"/><link href="https://news.example/"/>'
        '<subtitle type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">频道 <b>说明</b></div></subtitle>'
        "<author><name>编辑部</name></author>\n" + "\n".join(entries) + f"\n</{p}feed>"
    )
    if prefix:  # prefix every Atom element
        body = re.sub(r"<(/?)(?!\?|!|div|/div|b>|/b>)([a-z]+)", rf"<\1{prefix}:\2", body)
        body = body.replace(f"<{prefix}:{prefix}:", f"<{prefix}:").replace(f"</{prefix}:{prefix}:", f"</{prefix}:")
    return body


@pytest.mark.parametrize("seed", range(40))
def test_generated_atom_is_handled_and_matches(seed: int) -> None:
    rng = random.Random(1000 + seed)
    entries = [atom_entry(rng, seed * 100 + i) for i in range(rng.randint(1, 12))]
    body = atom_feed(entries).encode()
    for headers in (ATOM_UTF8, {}, {"content-type": "text/xml"}):
        assert_handled(body, headers)


def test_every_atom_variant_is_exercised() -> None:
    for group in (ATOM_IDS, ATOM_TITLES, ATOM_LINKS, ATOM_TEXTS, ATOM_DATES, ATOM_EXTRAS):
        for variant in group:
            snippet = variant.format(zh=ZH[1], n2="07", n=1)
            base = "<id>urn:x:1</id><title>标题</title>"
            if group in (ATOM_IDS, ATOM_TITLES):
                base = '<link href="https://news.example/1"/><summary>摘要</summary>'
            for entry in (
                f"<entry>{snippet}</entry>",
                f"<entry>{base}{snippet}</entry>",
                f"<entry>{snippet}{base}</entry>",
            ):
                assert_handled(atom_feed([entry]).encode(), ATOM_UTF8)


def test_prefixed_atom_is_handled() -> None:
    rng = random.Random(7)
    body = atom_feed([atom_entry(rng, i) for i in range(5)], prefix="atom").encode()
    assert b"<atom:entry>" in body
    assert_handled(body, ATOM_UTF8)


# --------------------------------------------------------------------------- declined

RSS_ITEM = "<item><title>标题</title><link>https://news.example/1</link><description>正文</description></item>"

DECLINED = {
    "xml:base": rss_feed([RSS_ITEM.replace("<item>", '<item xml:base="https://news.example/">')]),
    "xml:base on channel": rss_feed([RSS_ITEM]).replace("<channel>", '<channel xml:base="https://x.example/">'),
    "doctype": rss_feed([RSS_ITEM]).replace(
        "<rss ", '<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN" "x.dtd">\n<rss ', 1
    ),
    "entity": '<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY e "实体">]>'
    '<rss version="2.0"><channel><item><title>&e;</title></item></channel></rss>',
    "rdf": '<?xml version="1.0" encoding="utf-8"?><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
    'xmlns="http://purl.org/rss/1.0/"><channel rdf:about="x"><title>t</title></channel>'
    '<item rdf:about="https://a.example/1"><title>标题</title></item></rdf:RDF>',
    "media:title": rss_feed(
        [RSS_ITEM.replace("</item>", "<media:title>媒体标题</media:title></item>")],
        rss_attrs=' xmlns:media="http://search.yahoo.com/mrss/"',
    ),
    "unknown namespace in item": rss_feed(
        [RSS_ITEM.replace("</item>", "<x:title>别的</x:title></item>")], rss_attrs=' xmlns:x="https://x.example/ns"'
    ),
    "default unknown namespace": rss_feed([RSS_ITEM.replace("<title>", '<title xmlns="https://x.example/">')]),
    "atom:link in rss item": rss_feed(
        [RSS_ITEM.replace("</item>", '<atom:link href="https://other.example/"/></item>')]
    ),
    "duplicate title": rss_feed([RSS_ITEM.replace("</item>", "<title>第二个</title></item>")]),
    "duplicate description": rss_feed([RSS_ITEM.replace("</item>", "<description>再一个</description></item>")]),
    "typed description": rss_feed([RSS_ITEM.replace("<description>", '<description type="text/plain">')]),
    "item outside channel": '<?xml version="1.0"?><rss version="2.0"><channel><title>t</title></channel>'
    "<item><title>外面</title></item></rss>",
    "remapped dc prefix": rss_feed([RSS_ITEM]).replace(
        'xmlns:dc="http://purl.org/dc/elements/1.1/"', 'xmlns:dc="http://purl.org/rss/1.0/modules/content/"'
    ),
    "atom xhtml content": atom_feed(
        [
            '<entry><id>1</id><content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml"><p>正文</p></div></content></entry>'
        ]
    ),
    "atom base64 content": atom_feed(
        ['<entry><id>1</id><content type="text" mode="base64">5q2j5paH</content></entry>']
    ),
    "atom content src": atom_feed(['<entry><id>1</id><content src="https://a.example/x"/></entry>']),
    "atom other type": atom_feed(['<entry><id>1</id><content type="application/octet-stream">YWJj</content></entry>']),
    "atom link text": atom_feed(["<entry><id>1</id><link>https://a.example/1</link></entry>"]),
    "atom source": atom_feed(["<entry><id>1</id><source><title>源</title></source></entry>"]),
    "atom 0.3": '<?xml version="1.0"?><feed version="0.3" xmlns="http://purl.org/atom/ns#">'
    "<entry><title>旧</title></entry></feed>",
    "ill-formed": rss_feed([RSS_ITEM]).replace("</channel>", ""),
    "undefined entity": rss_feed([RSS_ITEM.replace("正文", "正文&nbsp;")]),
}


@pytest.mark.parametrize("case", sorted(DECLINED))
def test_declines_what_it_does_not_model(case: str) -> None:
    body = DECLINED[case].encode()
    fast, slow = both(body, RSS_UTF8)
    assert fast is None, case
    assert parse_feed(body, RSS_UTF8, "src", NOW) == slow


def test_declines_content_location_and_unusual_encodings() -> None:
    body = rss_feed([RSS_ITEM]).encode()
    assert parse_fast(body, {**RSS_UTF8, "Content-Location": "https://news.example/feed"}, "s", NOW) is None
    assert parse_fast(b"\xef\xbb\xbf" + body, RSS_UTF8, "s", NOW) is not None or True  # either is fine
    assert_same_or_declined(b"\xef\xbb\xbf" + body, RSS_UTF8)
    utf16 = rss_feed([RSS_ITEM], decl='<?xml version="1.0" encoding="utf-16"?>\n').encode("utf-16")
    assert_same_or_declined(utf16, {})
    assert parse_fast(b"", RSS_UTF8, "s", NOW) is None
    assert parse_fast(b"   \n", RSS_UTF8, "s", NOW) is None
    assert parse_fast(b'{"version": "https://jsonfeed.org/version/1.1"}', {}, "s", NOW) is None
