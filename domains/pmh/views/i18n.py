"""Every string the pmh views show, Japanese first, English second. Vocabulary tokens
(checkup kinds, vaccines, claim states) take their labels from ``domains.pmh.vocab``."""

from __future__ import annotations

from typing import Literal

from domains.pmh import vocab

Lang = Literal["ja", "en"]

MESSAGES: dict[str, tuple[str, str]] = {
    "dashboard": ("母子保健ダッシュボード", "Maternal and child health dashboard"),
    "family": ("親子の記録", "Our family's records"),
    "skip": ("本文へ移動", "Skip to main content"),
    "switch_lang": ("English", "日本語"),
    "logout": ("ログアウト", "Log out"),
    "signed_in_as": ("ログイン中：{name}", "Signed in as {name}"),
    "live_connecting": ("自動更新に接続中…", "Connecting for live updates…"),
    "live_on": ("自動更新中", "Live"),
    "live_off": ("自動更新が切れました。再接続します…", "Live updates lost; reconnecting…"),
    "login_title": ("ログイン", "Log in"),
    "login_staff": ("職員アカウント", "Staff account"),
    "login_name": ("ログイン名", "Login name"),
    "password": ("パスワード", "Password"),
    "totp": ("確認コード（6桁）", "Verification code (6 digits)"),
    "or_token": ("またはアクセストークン", "Or an access token"),
    "token_label": ("アクセストークン", "Access token"),
    "login_submit": ("ログイン", "Log in"),
    "login_failed": ("ログインできませんでした。入力内容と権限を確かめてください。",
                     "Could not log in: check what you entered and your permissions."),
    "logged_out": ("ログアウトしました。", "You have logged out."),
    "not_found": ("見つかりません。", "Not found."),
    # dashboard
    "pregnancies": ("妊娠中の方（妊娠期別）", "Pregnancies by trimester"),
    "trimester": ("妊娠期", "Trimester"),
    "t1": ("初期（〜13週）", "First (to 13 weeks)"),
    "t2": ("中期（14〜27週）", "Second (14-27 weeks)"),
    "t3": ("後期（28週〜）", "Third (28 weeks on)"),
    "people": ("人数", "People"),
    "checkups": ("健診の受診状況（受診票）", "Checkups done against due (vouchers)"),
    "kind": ("種類", "Kind"),
    "due": ("対象（有効な受診票）", "Due (vouchers valid)"),
    "done": ("受診済み", "Done"),
    "rate": ("受診率", "Rate"),
    "blood_tests": ("妊婦健診の血液検査等（標準の時期外を含む）",
                    "Pregnancy blood tests (and those outside the standard period)"),
    "test": ("検査", "Test"),
    "taken": ("実施", "Taken"),
    "outside_period": ("標準の時期外", "Outside the standard period"),
    "followups": ("EPDS フォローアップ", "EPDS follow-ups"),
    "open": ("対応待ち", "Open"),
    "overdue": ("期限超過", "Past due"),
    "coverage": ("予防接種の接種率（出生年別、1回以上）",
                 "Vaccination coverage by birth year (at least one dose)"),
    "cohort": ("出生年", "Born in"),
    "children": ("子の数", "Children"),
    "clinics": ("医療機関別 受診票の利用と精算", "Vouchers used and settled by clinic"),
    "clinic": ("医療機関コード", "Clinic code"),
    "used": ("受診票の利用", "Vouchers used"),
    "settling": ("精算中（未払）", "In settlement (unpaid)"),
    "settled": ("精算済み（支払済）", "Settled (paid)"),
    "paid_yen": ("支払額（円）", "Paid (yen)"),
    "claims_n": ("里帰り請求", "Claims"),
    "claims_approved": ("請求承認", "Claims approved"),
    "claims": ("里帰り出産の償還請求（状態別）", "Reimbursement claims by status"),
    "status": ("状態", "Status"),
    "count": ("件数", "Count"),
    "none": ("まだありません。", "None yet."),
    "submitted": ("審査待ち", "Submitted"),
    "approved": ("承認", "Approved"),
    "rejected": ("却下", "Rejected"),
    # family
    "born": ("{date} 生まれ", "born {date}"),
    "history": ("健診・受診の記録", "Checkups and visits"),
    "date": ("日付", "Date"),
    "clinic_name": ("医療機関", "Clinic"),
    "vaccinations": ("予防接種の記録", "Vaccinations"),
    "vaccine": ("ワクチン", "Vaccine"),
    "dose": ("回", "Dose"),
    "next": ("次の予防接種", "What is due next"),
    "growth": ("成長の記録", "Growth"),
    "growth_note": ("健診で測った値を、お子さんの性別の発育曲線（令和5年乳幼児身体発育調査）の"
                    "上に示します。薄い帯は3〜97パーセンタイル、濃い帯は10〜90パーセンタイル、"
                    "線は50パーセンタイル（中央値）です。帯の外の値は、もう一度確かめるための"
                    "目印で、診断ではありません。母子健康手帳に印刷された曲線は、平成22年の"
                    "調査によるものの場合があります。",
                    "The checkup measurements are drawn over the growth reference for the "
                    "child's sex (Japan's national growth survey of 2023): the light band is "
                    "the 3rd to 97th percentile, the dark band the 10th to 90th, the line the "
                    "50th (median). A value outside the bands is marked for a second look, "
                    "not a diagnosis. The curves printed in the Maternal and Child Health "
                    "Handbook may be those of the 2010 survey."),
    "growth_bands_desc": ("背景の帯は発育曲線の3〜97と10〜90パーセンタイル、線は50"
                          "パーセンタイルです。",
                          " Behind them, the reference's 3rd-97th and 10th-90th percentile "
                          "bands and its 50th percentile line."),
    "growth_source": ("", "Source: Ministry of Health, Labour and Welfare, National Growth "
                          "Survey on Preschool Children 2023 (e-Stat): "),
    "band": ("パーセンタイル", "Percentile band"),
    "band_outside": ("基準の月齢の外", "outside the reference's ages"),
    "band_estimate": ("{band}（推定P{p}）", "{band} (about P{p})"),
    "weight": ("体重（kg）", "Weight (kg)"),
    "height": ("身長（cm）", "Height (cm)"),
    "age_months": ("月齢", "Age (months)"),
    "growth_desc": ("{what}：{n}回の測定、{first}から{last}まで。",
                    "{what}: {n} measurements, {first} to {last}."),
    "development": ("発達の確認", "Development"),
    "checkup": ("健診", "Checkup"),
    "item": ("項目", "Item"),
    "answer": ("回答", "Answer"),
    "to_follow": ("（確認）", "(to follow up)"),
    "family_claims": ("償還請求", "Reimbursement claims"),
    "reason": ("理由", "Reason"),
    "cap": ("上限額（円）", "Cap (yen)"),
    "deadline": ("請求期限", "Deadline"),
    "no_children": ("このトークンで見られるお子さんの記録はありません。",
                    "No child's records can be read with this token."),
}
STATES: dict[str, tuple[str, str]] = {
    "due": ("接種時期です", "due"), "overdue": ("標準期間を過ぎています", "overdue"),
    "allowed": ("接種できます", "allowed"), "not_yet_allowed": ("まだ受けられません",
                                                               "not yet"),
    "no_longer_public": ("公費の期間は終わりました", "no longer at public expense"),
    "complete": ("完了", "complete"),
}


def pick(value: str | None) -> Lang:
    return "en" if value == "en" else "ja"


def t(lang: Lang, key: str, **fields: object) -> str:
    text = MESSAGES[key][lang == "en"]
    return text.format(**fields) if fields else text


def label(lang: Lang, table: dict[str, tuple[str, str]], token: str | None) -> str:
    """A vocabulary token's label (the token itself when the table has none)."""
    found = table.get(token or "")
    return found[lang == "en"] if found else str(token or "")


def voucher_kind(lang: Lang, token: str) -> str:
    return label(lang, vocab.VOUCHER_KINDS, token)


def vaccine(lang: Lang, token: str) -> str:
    return label(lang, vocab.VACCINES, token)


def encounter_kind(lang: Lang, token: str) -> str:
    return label(lang, vocab.ENCOUNTER_KINDS, token)
