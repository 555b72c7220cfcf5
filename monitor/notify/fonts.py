"""A CJK font that works on a fresh machine: Noto Sans CJK from the ``noto-cjk-sans-otc`` package.

Charts (matplotlib) register it with ``font_manager.addfont`` at first use: no system
package, no font-cache rebuild. Browsers (the console's tests) get it through a fontconfig
file that adds the package's folder to the system's fonts (:func:`fontconfig_file`).
The package is part of the ``charts`` extra; without it, the system's CJK fonts are used.
"""

from __future__ import annotations

from pathlib import Path

FAMILY = "Noto Sans CJK SC"


def cjk_font() -> Path | None:
    """The shipped Noto Sans CJK collection, or None when the package is not installed."""
    try:
        from noto_cjk_sans_otc import FONT_PATH
    except ImportError:
        return None
    path = Path(str(FONT_PATH))
    return path if path.is_file() else None


def fontconfig_file(folder: Path) -> Path | None:
    """Write a fontconfig file that adds the shipped font to the system's; None without the font.

    Point ``FONTCONFIG_FILE`` at it for a browser (or any fontconfig program) to find the font.
    """
    font = cjk_font()
    if font is None:
        return None
    folder.mkdir(parents=True, exist_ok=True)
    conf = folder / "fonts.conf"
    conf.write_text(
        '<?xml version="1.0"?>\n<!DOCTYPE fontconfig SYSTEM "fonts.dtd">\n<fontconfig>\n'
        '  <include ignore_missing="yes">/etc/fonts/fonts.conf</include>\n'
        f"  <dir>{font.parent}</dir>\n  <cachedir>{folder / 'cache'}</cachedir>\n</fontconfig>\n",
        encoding="utf-8",
    )
    return conf
