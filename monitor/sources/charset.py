"""Which charset a feed body is in: the header, the XML declaration, the bytes themselves."""

from __future__ import annotations

import codecs
import logging
import re

log = logging.getLogger(__name__)

log = logging.getLogger(__name__)

# --------------------------------------------------------------------------- charsets

_MULTIBYTE = frozenset(
    {"utf-8", "gb2312", "gbk", "gb18030", "big5", "big5hkscs", "cp950"}
    | {"euc_jp", "shift_jis", "cp932", "euc_kr", "cp949"}
)
_WIDER = {
    "gb2312": ("gb18030",),
    "gbk": ("gb18030",),
    "big5": ("cp950", "big5hkscs"),
    "euc_kr": ("cp949",),
    "shift_jis": ("cp932",),
    "iso8859-1": ("cp1252", "iso8859-1"),
}
_XML_DECL = re.compile(rb"^\s*<\?xml[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9._:-]+)[\"']")
_CHARSET_PARAM = re.compile(r"charset\s*=\s*[\"']?\s*([A-Za-z0-9._:-]+)", re.IGNORECASE)
_UNICODE_MARKERS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff", b"\x00\x00", b"\x00<", b"<\x00")


def _codec(name: str | None) -> str | None:
    if not name:
        return None
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def _decodes(body: bytes, encoding: str) -> bool:
    try:
        body.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        return False
    return True


def choose_charset(body: bytes, content_type: str) -> tuple[str | None, str | None]:
    """The charset to decode a non-ASCII XML body with, when feedparser's rules would fail.

    feedparser follows RFC 3023 (the header's charset wins, ``text/xml`` without one means
    US-ASCII) and then falls back to windows-1252 / iso-8859-2, which turns Chinese into
    mojibake. Here, in order: a body that is valid UTF-8 is UTF-8; then the declared
    multi-byte encodings (header or XML declaration, widened: GB2312/GBK to GB18030, Big5
    to CP950); then Chinese recognised in GB18030 or CP950 by its common characters; then
    declared single-byte encodings. The first that decodes the whole body wins.

    Returns ``(charset, note)``. ``charset`` None leaves the choice to feedparser (ASCII
    bodies, BOMs, UTF-16/32, or nothing fits). ``note`` names a problem worth an admin's
    eye: a header and declaration that disagree, or a body whose charset had to be guessed.
    """
    if body.isascii() or body[:2] in _UNICODE_MARKERS or body[:3] in _UNICODE_MARKERS:
        return None, None
    header = _codec(m.group(1)) if (m := _CHARSET_PARAM.search(content_type)) else None
    declared = _codec(d.group(1).decode("ascii")) if (d := _XML_DECL.match(body[:1024])) else None
    if any(c.startswith(("utf_16", "utf-16", "utf_32", "utf-32")) for c in (header, declared) if c):
        return None, None
    chosen = _pick(body, header, declared)
    if chosen is None:
        return None, (
            f"charset: the body is not valid in the declared charset ({header or declared or 'none'}) "
            "nor recognisably UTF-8 or Chinese; its text may be garbled"
        )
    return chosen, _charset_note(header, declared, chosen)


def _pick(body: bytes, header: str | None, declared: str | None) -> str | None:
    if _decodes(body, "utf-8"):
        return "utf-8"
    for name in (c for c in (header, declared) if c in _MULTIBYTE):
        for candidate in _WIDER.get(name, (name,)):
            if _decodes(body, candidate):
                return candidate
    guess = guess_chinese(body)
    if guess is not None:
        return guess
    for name in (c for c in (header, declared) if c and c not in _MULTIBYTE):
        for candidate in _WIDER.get(name, (name,)):
            if _decodes(body, candidate):
                return candidate
    return None


# The most frequent characters of written Chinese, simplified and traditional forms. Real
# Chinese text decoded in the right charset is full of them; the wrong decoding of the
# same bytes gives rare characters, and other languages give almost none.
_COMMON_HANZI = frozenset(
    "的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年得就那要下以生会自着去之过"
    "家学对可她里后小么心多天而能好都然没日于起还发成事只作当想看文无开手十用主行方又如前所"
    "本见经头面公同三已老从动两长知民样现分将外但身些与高意进把法此实回二理美点月明其种声全"
    "工己话儿者向情部正名定女问力机给等几很业最间新什打便位因重被走电四第门相次东政海口使教"
    "西再平真听世气信北少关并内加化由却代军产入先山五太水万市眼体别处总才场师书比住员九笑性"
    "品质量投诉问题公司产品服务客户价格安全事故召回调查消费者"
    "這來國個說們為時會對後麼過還發學長見經頭動兩樣現將實點種聲話兒與業間機電門東開關軍產處"
    "總師書員華報馬張難數體應車氣當無愛讓認論義術結變聯權傳領運區轉輕專讀觀飛爭組設語歷網臺灣"
    "質題務戶價災調費"
)
_CJK = re.compile(r"[\u4e00-\u9fff]")


def guess_chinese(body: bytes) -> str | None:
    """``gb18030`` or ``cp950`` when the body reads as Chinese text in it, else None."""
    best, best_score = None, 0.15  # share of common characters needed to call it Chinese
    for charset in ("gb18030", "cp950"):
        try:
            text = body.decode(charset)
        except UnicodeDecodeError:
            continue
        hanzi = _CJK.findall(text)
        if len(hanzi) < 8:
            continue
        score = sum(1 for ch in hanzi if ch in _COMMON_HANZI) / len(hanzi)
        if score > best_score:
            best, best_score = charset, score
    return best


def _family(name: str | None) -> str | None:
    wider = _WIDER.get(name or "", ())
    return wider[0] if wider else name


def _charset_note(header: str | None, declared: str | None, chosen: str) -> str | None:
    stated = [c for c in (header, declared) if c]
    if not stated:
        return None if chosen == "utf-8" else f"charset: none declared; the text reads as Chinese in {chosen}"
    if all(_family(c) == _family(chosen) for c in stated):
        return None
    return (
        f"charset: the HTTP header says {header or '(none)'}, the XML declaration says "
        f"{declared or '(none)'}; the body decodes as {chosen}, so it was read as {chosen}"
    )


def _with_charset(content_type: str, charset: str) -> str:
    """A Content-Type that makes feedparser decode with ``charset`` and not complain."""
    mime = content_type.split(";", 1)[0].strip().lower()
    if not (mime.endswith("/xml") or mime.endswith("+xml")) or mime.startswith("text/"):
        mime = "application/xml"
    return f"{mime}; charset={charset}"
