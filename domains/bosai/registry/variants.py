"""旧字体 and 異体字 in names folded to their 新字体 for matching (never for display).

What is folded, and why it is safe: a pair is folded only when both code points write the
*same character* (同一字種): the 旧字体 in brackets in the 常用漢字表 or listed against its
新字体 in 人名用漢字 別表第二, or a 俗字/異体字 the 戸籍 character tables give for it
(髙/高, 﨑/嵜/崎, 邊/邉/辺, 𠮷/吉). People write their own name both ways on different
forms (the card and a handwritten reception form), so folding these is what makes one
person match themselves; two different people differing only in such a variant, with the
same kana, birth date, sex and address, is not a case worth refusing the match for.

What is *not* folded: different characters that share a reading or look alike. They are
different names, so a difference only there goes to the review queue (reason
``name_differs_same_kana`` or ``name_one_edit``), never to an automatic merge:

* 斉 and 斎 (斉藤 / 斎藤 are different surnames; only 齊→斉 and 齋→斎 are folded),
* 崎 and 埼 / 碕, 恵 and 慧, 祐 and 佑, 芦 and 葦, 杉 and 椙, 藤 and 籐, 辻 and 逵 ...
  (anything not in the table below).

CJK compatibility ideographs with a canonical decomposition (神, 福, 都, 隆 ...) are folded
by NFKC before this table applies; the compatibility ideographs without one (﨑 U+FA11,
﨔 U+FA14 ...) are listed here when they are name variants. Ideographic variation selectors
(IVS, U+E0100..) are dropped before matching.
"""

from __future__ import annotations

# old or variant form -> the form used for matching (a 新字体 in current use).
VARIANTS: dict[str, str] = {
    # the common ones in surnames
    "髙": "高", "﨑": "崎", "嵜": "崎", "齋": "斎", "齊": "斉", "邊": "辺", "邉": "辺",
    "澤": "沢", "濱": "浜", "濵": "浜", "廣": "広", "國": "国", "櫻": "桜", "龍": "竜",
    "眞": "真", "德": "徳", "惠": "恵", "壽": "寿", "藏": "蔵", "實": "実", "會": "会",
    "靜": "静", "瀨": "瀬", "嶋": "島", "嶌": "島", "峯": "峰", "舘": "館", "冨": "富",
    "栁": "柳", "槇": "槙", "檜": "桧", "曾": "曽", "淵": "渕", "淸": "清", "靑": "青",
    "黑": "黒", "條": "条", "傳": "伝", "邨": "村", "嶽": "岳", "萬": "万", "與": "与",
    "來": "来", "當": "当", "佛": "仏", "榮": "栄", "鐵": "鉄", "晉": "晋", "彌": "弥",
    "禮": "礼", "豐": "豊", "戶": "戸", "增": "増", "濟": "済", "兒": "児", "圓": "円",
    "學": "学", "寬": "寛", "鷗": "鴎", "鹽": "塩", "縣": "県", "將": "将", "壹": "壱",
    "亞": "亜", "勳": "勲", "乘": "乗", "淺": "浅", "豬": "猪", "龜": "亀", "澁": "渋",
    "澀": "渋", "聰": "聡", "凜": "凛", "蘆": "芦", "崗": "岡", "𠮷": "吉", "𡈽": "土",
    "巖": "巌", "驒": "騨",
    # given names and place names (addresses use the same table)
    "廸": "迪", "莊": "荘", "彥": "彦", "祿": "禄", "綠": "緑", "稻": "稲", "穗": "穂",
    "埜": "野", "鄕": "郷", "鄉": "郷", "收": "収", "狹": "狭",
    "瑤": "瑶", "顯": "顕", "賴": "頼", "錄": "録", "滿": "満", "顏": "顔", "樂": "楽",
    "辨": "弁", "辯": "弁", "瓣": "弁", "驛": "駅", "聯": "連", "關": "関", "閒": "間",
    "廳": "庁", "雙": "双", "樓": "楼", "濤": "涛", "燈": "灯", "禪": "禅",
    "繪": "絵", "萠": "萌", "遙": "遥", "堯": "尭", "槪": "概",
}

# Ideographic and standardised variation selectors, and zero-width joiners/spaces.
_DROPPED = {cp: None for cp in (*range(0xFE00, 0xFE10), *range(0xE0100, 0xE01F0),
                                0x200B, 0x200C, 0x200D, 0x2060, 0xFEFF)}
_TABLE = str.maketrans({**VARIANTS, **_DROPPED})


def fold_variants(text: str) -> str:
    """Each listed variant as its matching form; variation selectors removed."""
    return text.translate(_TABLE)
