"""Japanese and English text as the catalog index sees it: normalised forms, readings, n-grams.

Three views of one text are indexed (``catalog.index``):

* the **surface**: NFKC (full-width letters and digits, half-width kana), case folded,
  katakana folded to hiragana (``catalog.search.normalize_text``);
* its **reading**: every token with Japanese letters replaced by its reading from SudachiPy
  (sudachidict-core), in hiragana, then *loosely folded*: voiced and semi-voiced marks removed
  and small kana made large, so that 避難所 (read ヒナンショ by the dictionary) and the query
  ひなんじょ (the reading people say, with rendaku) meet at ひなんしよ;
* the **bigrams** of the surface, for queries too short for the trigram index.

SudachiPy's dictionary is memory-mapped by its Rust core: loading it costs about 80 MB of
resident pages in a fresh process (measured in docs/catalog.md), shared with the page cache.
"""

from __future__ import annotations

import logging
import re
import threading
import unicodedata
from typing import Any

from catalog.search import normalize_text

log = logging.getLogger(__name__)

_JAPANESE = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff々〆ヶ]")
_KANA_ONLY = re.compile(r"^[\u3041-\u3096\u30fcー]+$")
_WORD_RUN = re.compile(r"\w+")
_SMALL = str.maketrans("ぁぃぅぇぉっゃゅょゎゕゖ", "あいうえおつやゆよわかけ")
_MARKS = dict.fromkeys((0x3099, 0x309A, 0x309B, 0x309C))  # (semi-)voiced sound marks


def fold_reading(kana: str) -> str:
    """Loose reading: hiragana without voicing marks, small kana large (ジョ, しょ -> しよ)."""
    decomposed = unicodedata.normalize("NFD", normalize_text(kana))
    return decomposed.translate(_MARKS).translate(_SMALL)


def has_japanese(text: str) -> bool:
    return _JAPANESE.search(text) is not None


def is_kana(term: str) -> bool:
    """A query term written only in kana (after normalisation): also looked up by reading."""
    return _KANA_ONLY.match(term) is not None


class _Analyser:
    """One SudachiPy tokenizer per thread (its tokenizer is not thread-safe); the dictionary
    itself is loaded once and shared."""

    def __init__(self) -> None:
        self._dictionary: Any = None
        self._failed = False
        self._local = threading.local()
        self._lock = threading.Lock()

    def tokenizer(self) -> Any:
        tok = getattr(self._local, "tok", None)
        if tok is not None or self._failed:
            return tok
        with self._lock:
            if self._dictionary is None and not self._failed:
                try:
                    from sudachipy import Dictionary
                    self._dictionary = Dictionary(dict="core")
                except Exception as exc:  # missing package or dictionary: surface-only search
                    log.warning("SudachiPy unavailable, readings are not indexed",
                                extra={"error": type(exc).__name__})
                    self._failed = True
                    return None
        from sudachipy import SplitMode
        make = getattr(self._dictionary, "tokenizer", None)  # SudachiPy >= 0.6.9
        tok = make(mode=SplitMode.C) if make else self._dictionary.create(SplitMode.C)
        self._local.tok = tok
        return tok


_ANALYSER = _Analyser()
MAX_ANALYSED_CHARS = 20_000  # Sudachi refuses inputs over ~49 KB; nobody reads past this


def reading(text: str) -> str:
    """The folded reading of ``text``'s Japanese tokens, other tokens dropped ("" if none)."""
    text = unicodedata.normalize("NFKC", text[:MAX_ANALYSED_CHARS])
    if not has_japanese(text):
        return ""
    tok = _ANALYSER.tokenizer()
    if tok is None:
        return ""
    parts: list[str] = []
    for chunk in _WORD_RUN.findall(text):
        if not has_japanese(chunk):
            parts.append(" ")
            continue
        try:
            morphemes = tok.tokenize(chunk)
        except Exception:  # an input Sudachi refuses is indexed by its surface only
            continue
        for m in morphemes:
            surface = m.surface()
            if has_japanese(surface):
                r = m.reading_form()
                parts.append(r if r and r != "キゴウ" else surface)
            else:
                parts.append(" ")
        parts.append(" ")
    return " ".join(fold_reading("".join(parts)).split())


def bigrams(text: str) -> str:
    """Space-separated bigrams of each word run of normalised ``text``, plus each run's last
    character alone, so that a one-character query finds it as a prefix of some token."""
    out: list[str] = []
    for run in _WORD_RUN.findall(text):
        out.extend(run[i:i + 2] for i in range(len(run) - 1))
        out.append(run[-1])
    return " ".join(out)
