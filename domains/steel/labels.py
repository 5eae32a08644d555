"""Every string the steel pages show (the provenance package's page, the supply-chain view),
Japanese first, English second."""

from __future__ import annotations

from typing import Literal

Lang = Literal["ja", "en"]

MESSAGES: dict[str, tuple[str, str]] = {
    "package_title": ("材料確認資料（ミルシート来歴）",
                      "Material inspection: mill sheet provenance"),
    "package_lead": ("土木工事共通仕様書に基づく材料確認のため、鋼材の製造者の検査証明書から"
                     "現在の保有者までの来歴を示します。各記録は発行者の電子署名付きです。",
                     "For material inspection under the public-works common specifications: "
                     "the chain from the mill's inspection certificate to today's holder. "
                     "Every record carries its issuer's digital signature."),
    "verified": ("検証済み：すべての署名と連鎖を確認しました",
                 "Verified: every signature and link checked"),
    "not_verified": ("未検証：確認できない記録があります",
                     "NOT verified: some records could not be checked"),
    "flagged_banner": ("要確認：規格値を満たさない項目のある証明書を含みます",
                       "Flagged: a certificate in the chain fails a grade check"),
    "flagged": ("要確認", "Flagged"),
    "state_ok": ("検証済み", "verified"),
    "state_ng": ("未検証", "NOT verified"),
    "piece": ("対象の鋼材", "The piece"),
    "piece_id": ("製品番号", "Piece id"),
    "holder": ("現在の保有者", "Held by"),
    "grade": ("鋼種", "Grade"),
    "heat": ("溶鋼番号", "Heat number"),
    "cert_number": ("証明書番号", "Certificate number"),
    "product": ("品名", "Product"),
    "chain": ("来歴（製造者から保有者まで）", "Chain from the mill to the holder"),
    "position": ("順", "No."),
    "kind": ("種別", "Kind"),
    "issuer": ("発行者", "Issuer"),
    "date": ("日付", "Date"),
    "document": ("文書番号", "Document number"),
    "mass": ("質量 (kg)", "Mass (kg)"),
    "to": ("引渡し先", "To"),
    "pieces": ("製品番号", "Pieces"),
    "checks": ("確認結果", "Checks"),
    "link_checks": ("各記録の確認", "Checks of each record"),
    "grade_checks": ("規格値の判定（項目別）", "Grade checks by property"),
    "property": ("項目", "Property"),
    "actual": ("実測値", "Actual"),
    "limit": ("規格値", "Limit"),
    "clause": ("根拠（規格の条項）", "Source clause"),
    "result": ("判定", "Result"),
    "pass": ("合格", "pass"),
    "fail": ("不合格", "FAIL"),
    "unchecked": ("判定なし", "not checked"),
    "ok": ("確認済み", "OK"),
    "ng": ("不一致", "FAILED"),
    "limit_unverified": ("規格値は原典未照合", "limit not yet checked against the standard"),
    "verify": ("検証", "Verification"),
    "verify_how": ("QRコードまたは次のURLで、この資料の記録を検証できます。",
                   "Scan the QR code or open this address to verify these records."),
    "package_hash": ("資料のハッシュ (SHA-256, RFC 8785)", "Package hash (SHA-256, RFC 8785)"),
    "record_hash": ("記録のハッシュ", "Record hash"),
    "exported": ("作成日時", "Exported at"),
    "problems": ("問題", "Problems"),
    "none": ("なし", "none"),
    "qr_label": ("検証用QRコード", "Verification QR code"),
    # the supply-chain view
    "view_title": ("鋼材のサプライチェーン", "Steel supply chain"),
    "skip": ("本文へ移動", "Skip to main content"),
    "switch_lang": ("English", "日本語"),
    "search_label": ("溶鋼番号または証明書番号", "Heat number or certificate number"),
    "search": ("表示", "Show"),
    "tree": ("派生した鋼材と現在の保有者", "Derived pieces and where each is now"),
    "not_found": ("該当する鋼材はありません。", "No piece found."),
    "enter_query": ("溶鋼番号または証明書番号を入力してください。",
                    "Enter a heat number or a certificate number."),
    "now_at": ("現在の保有者", "Now at"),
    "no_chain": ("この鋼材自体の来歴はありません（加工に使われた場合など）",
                 "no chain of its own (for instance, processed further)"),
    "state": ("検証状態", "Verification"),
    "failed_checks": ("不合格・不一致の項目", "Failed checks"),
    "unavailable": ("来歴の検証はまだ利用できません。", "Chain verification is not available yet."),
    "pieces_n": ("{n} 個の鋼材", "{n} pieces"),
    # logging in to the view mounted on a connector
    "login_title": ("ログイン", "Log in"),
    "token_label": ("アクセストークン (steel:chain)", "Access token (steel:chain)"),
    "token_hint": ("コネクタの管理者が発行したトークンを貼り付けてください。",
                   "Paste the token your connector's administrator issued."),
    "login": ("ログイン", "Log in"),
    "logout": ("ログアウト", "Log out"),
    "login_failed": ("トークンが無効か、この画面の権限がありません。",
                     "The token is invalid or lacks this view's scope."),
    "logged_out": ("ログアウトしました。", "You have logged out."),
}

KINDS: dict[str, tuple[str, str]] = {
    "certificate": ("検査証明書（ミルシート）", "Inspection certificate (mill sheet)"),
    "derivation": ("派生証明書（切断・スリット）", "Derived certificate (cut or slit)"),
    "custody": ("引渡し", "Transfer of custody"),
    "supporting": ("関連記録", "Supporting record"),
}

CHECK_NAMES: dict[str, tuple[str, str]] = {
    "signature": ("電子署名", "signature"),
    "parent_hash": ("親証明書のハッシュ", "parent certificate hash"),
    "mass_balance": ("質量の収支", "mass balance"),
    "sender_held": ("引渡し元の保有", "sender held the piece"),
    "agreement": ("当事者間の契約", "agreement between the parties"),
    "issuer_is_mill": ("発行者が鉄鋼メーカー", "issuer is a steel mill"),
    "unaltered": ("原本のまま", "unaltered"),
}

PROPERTIES: dict[str, tuple[str, str]] = {
    "yield_point": ("降伏点", "yield point"),
    "tensile_strength": ("引張強さ", "tensile strength"),
    "elongation": ("伸び", "elongation"),
    "charpy": ("シャルピー吸収エネルギー", "Charpy absorbed energy"),
    "heat_number": ("溶鋼番号の一致", "heat number match"),
    "grade": ("鋼種", "grade"),
}


def pick(value: str | None) -> Lang:
    return "en" if value == "en" else "ja"


def _of(table: dict[str, tuple[str, str]], key: str, lang: Lang) -> str:
    pair = table.get(key)
    return key if pair is None else pair[0 if lang == "ja" else 1]


def t(lang: Lang, key: str, **values: object) -> str:
    return _of(MESSAGES, key, lang).format(**values)


def both(key: str) -> tuple[str, str]:
    """Japanese and English of a message (the printed page shows the English below)."""
    return MESSAGES[key]


def kind(lang: Lang, value: str) -> str:
    return _of(KINDS, value, lang)


def check_name(lang: Lang, value: str) -> str:
    return _of(CHECK_NAMES, value, lang)


def prop(lang: Lang, value: str) -> str:
    """A chemical element stays its symbol (P, S, C...)."""
    return _of(PROPERTIES, value, lang)
