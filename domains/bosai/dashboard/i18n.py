"""Every string the dashboard shows, Japanese first, English second, in one catalogue.

Vocabulary tokens (stay types, 要配慮 categories, shelter types) take their labels from
``domains.bosai.vocab`` so that forms, records and the dashboard never disagree on a word.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from domains.bosai import vocab
from domains.japanese import normalize_width
from domains.japanese.dates import JST

Lang = Literal["ja", "en"]
LANGS: tuple[Lang, ...] = ("ja", "en")

MESSAGES: dict[str, tuple[str, str]] = {
    "app": ("避難状況ダッシュボード", "Evacuation dashboard"),
    "app_short": ("防災ハブ", "Disaster hub"),
    "skip": ("本文へ移動", "Skip to main content"),
    "nav": ("メニュー", "Menu"),
    "nav_overview": ("概況", "Overview"),
    "nav_search": ("避難者の検索", "Find a person"),
    "switch_lang": ("English", "日本語"),
    "logout": ("ログアウト", "Log out"),
    "signed_in_as": ("ログイン中：{name}", "Signed in as {name}"),
    "live_connecting": ("自動更新に接続中…", "Connecting for live updates…"),
    "live_on": ("自動更新中", "Live"),
    "live_off": ("自動更新が切れました。再接続します…", "Live updates lost; reconnecting…"),
    "updated_at": ("最終更新 {time}", "Updated {time}"),
    # login
    "login_title": ("職員ログイン", "Staff login"),
    "login_intro": ("アクセストークン（bosai:dashboard の権限）を貼り付けてください。",
                    "Paste an access token of this connector with the bosai:dashboard scope."),
    "token_label": ("アクセストークン", "Access token"),
    "login_submit": ("ログイン", "Log in"),
    "login_failed": ("トークンが無効か、期限切れか、権限がありません。",
                     "The token is invalid, expired, or lacks the bosai:dashboard scope."),
    "logged_out": ("ログアウトしました。", "You are logged out."),
    # staff accounts (connector.api.staff): a person logs in, scripts keep pasting tokens
    "staff_login": ("職員IDでログイン", "Staff ID login"),
    "staff_login_intro": ("職員IDとパスワード、認証アプリの確認コード（6桁）を入力してください。",
                          "Enter your staff login name, password and the 6-digit code of "
                          "your authenticator app."),
    "staff_login_label": ("職員ID", "Login name"),
    "staff_password_label": ("パスワード", "Password"),
    "staff_totp_label": ("確認コード（6桁）", "One-time code (6 digits)"),
    "staff_submit": ("サインイン", "Sign in"),
    "oidc_login": ("自治体の統合認証", "Municipality sign-in"),
    "oidc_intro": ("自治体の職員アカウント（OpenID Connect）でサインインします。",
                   "Sign in with your municipality account (OpenID Connect)."),
    "oidc_submit": ("統合認証でサインイン", "Sign in with the municipality account"),
    "token_login": ("トークンでログイン（スクリプト用）", "Token login (for scripts)"),
    "oidc_continue": ("サインインしました。ダッシュボードへ進みます…",
                      "Signed in. Continuing to the dashboard…"),
    "continue": ("ダッシュボードへ", "Go to the dashboard"),
    "err_staff.login_failed": ("職員IDかパスワードが違います。",
                               "The login name or password is wrong."),
    "err_staff.totp_wrong": ("確認コードが違います。認証アプリの時刻とアカウントを"
                             "確かめてください。",
                             "The one-time code is wrong: check the authenticator app's clock "
                             "and account."),
    "err_staff.totp_replayed": ("この確認コードは使用済みです。次のコード（30秒ごとに変わります）"
                                "を入力してください。",
                                "This one-time code was already used: enter the next one (it "
                                "changes every 30 seconds)."),
    "err_staff.locked": ("ログインの失敗が続いたため15分間ロックされています。急ぐときは管理者に"
                         "連絡してください。",
                         "Too many failed logins: locked for 15 minutes. Ask an administrator "
                         "if it is urgent."),
    "err_staff.disabled": ("このアカウントは無効にされています。管理者に連絡してください。",
                           "This account is disabled. Ask an administrator."),
    "err_oidc.not_linked": ("この自治体アカウントは、このダッシュボードの職員アカウントに結び付け"
                            "られていません。管理者に連絡してください。",
                            "Your municipality account is not linked to a staff account here. "
                            "Ask an administrator."),
    "err_oidc.not_configured": ("統合認証は設定されていません。", "Municipality sign-in is not "
                                "configured."),
    "err_oidc.provider_error": ("統合認証サーバーから正しい応答がありませんでした。もう一度お試し"
                                "ください。",
                                "The municipality sign-in server did not answer as expected. "
                                "Try again."),
    "err_oidc": ("統合認証の応答を確認できなかったため、ログインしませんでした。もう一度お試し"
                 "ください。",
                 "The sign-in answer could not be verified, so you were not logged in. Try "
                 "again."),
    "err_code": ("エラーコード: {code}", "Error code: {code}"),
    # totals
    "totals": ("全体", "Totals"),
    "in_shelters": ("避難所にいる人", "People in shelters"),
    "open_shelters": ("開設中の避難所", "Open shelters"),
    "capacity_open": ("開設中の避難所の定員", "Capacity of open shelters"),
    "registered": ("登録者数", "Registered people"),
    "people_n": ("{n}人", "{n}"),
    "shelters_n": ("{n}か所", "{n}"),
    # trend
    "trend": ("避難所にいる人の推移", "People in shelters over time"),
    "trend_desc": ("{start}から{end}まで。最小{low}人、最大{high}人、現在{now}人。",
                   "From {start} to {end}: lowest {low}, highest {high}, now {now}."),
    "trend_empty": ("まだ記録がありません。", "Nothing recorded yet."),
    "trend_table": ("表で見る", "Show as a table"),
    "time": ("時刻", "Time"),
    "people": ("人数", "People"),
    # shelters
    "shelters": ("避難所の受け入れ状況", "Shelter occupancy"),
    "shelters_empty": ("開設中の避難所はありません。", "No shelter is open."),
    "shelter": ("避難所", "Shelter"),
    "type": ("種別", "Type"),
    "occupancy": ("人数／定員", "People / capacity"),
    "state": ("状況", "State"),
    "reported": ("報告人数（昼／夜）", "Reported (day / night)"),
    "not_reported": ("未報告", "Not reported"),
    "approximately": ("約{n}", "about {n}"),
    "reported_ago": ("{age}前の報告", "reported {age} ago"),
    "stale_report": ("報告が古い", "Report is old"),  # threshold: bosai stale-after
    "age_minutes": ("{n}分", "{n} min"),
    "age_hours": ("{n}時間", "{n} h"),
    "age_days": ("{n}日", "{n} days"),
    "periods": ("開設期間", "Open periods"),
    "period_opened": ("開設", "Opened"),
    "period_closed": ("閉鎖", "Closed"),
    "still_open": ("開設中", "Still open"),
    "periods_empty": ("開設の記録はありません。", "No opening recorded."),
    "change_opened": ("開設", "opened"),
    "change_closed": ("閉鎖", "closed"),
    "original": ("原文", "original"),
    "needs": ("不足物資", "Needs"),
    "care_total": ("要配慮者", "People needing care"),
    "full": ("満員", "Full"),
    "room": ("余裕あり（あと{n}人）", "Room for {n} more"),
    "no_capacity": ("定員不明", "Capacity unknown"),
    "closed": ("閉鎖", "Closed"),
    "open": ("開設", "Open"),
    "unknown": ("不明", "Unknown"),
    "of_capacity": ("{people}人／定員{capacity}人", "{people} of {capacity}"),
    "of_no_capacity": ("{people}人／定員不明", "{people} (capacity unknown)"),
    # map
    "map": ("避難所の地図", "Map of open shelters"),
    "map_desc": ("開設中の避難所{n}か所の位置。円の大きさは人数、色は定員に対する混み具合。"
                 "同じ内容を地図の下の表で見られます。",
                 "Where the {n} open shelters are. Circle size shows people, colour how full "
                 "against capacity. The table under the map gives the same."),
    "map_empty": ("位置のわかる開設中の避難所はありません。",
                  "No open shelter with a known location."),
    "map_missing": ("位置が不明なため地図にない避難所（{n}か所）: {names}",
                    "Not on the map, location unknown ({n}): {names}"),
    "map_low": ("空きあり（50%未満）", "Room (under 50%)"),
    "map_mid": ("やや混雑（50〜80%）", "Filling (50–80%)"),
    "map_high": ("混雑（80%以上）", "Nearly full (80% or more)"),
    "map_full": ("満員", "Full"),
    "map_unknown": ("定員不明", "Capacity unknown"),
    "map_size": ("円の大きさ＝人数", "Circle size = people"),
    "map_fullness": ("混み具合", "How full"),
    "latitude": ("緯度", "Latitude"),
    "longitude": ("経度", "Longitude"),
    "north": ("北", "N"),
    # stays
    "stays": ("滞在場所の内訳", "Where people stay"),
    "stay": ("滞在場所", "Stay location"),
    "share": ("割合", "Share"),
    "stay_unknown": ("未確認", "Not known"),
    # care
    "care": ("要配慮者（避難所別・区分別）", "People needing care, by shelter and category"),
    "care_outside": ("避難所以外（在宅・車中泊など）", "Outside shelters (home, vehicle…)"),
    "total": ("合計", "Total"),
    "care_note": ("医療情報（透析・酸素など）はここには表示しません。",
                  "Medical details (dialysis, oxygen…) are not shown here."),
    # supplies
    "supplies": ("救援物資の要請", "Supply requests"),
    "supplies_by_status": ("状態別の件数", "Requests by status"),
    "supplies_open": ("対応中の要請", "Open requests"),
    "supplies_empty": ("要請はありません。", "No supply requests."),
    "status": ("状態", "Status"),
    "count": ("件数", "Count"),
    "item": ("品目", "Item"),
    "quantity": ("数量", "Quantity"),
    "urgency": ("緊急度", "Urgency"),
    "for_whom": ("対象", "For whom"),
    "status_requested": ("要請中", "Requested"),
    "status_committed": ("手配済み", "Committed"),
    "status_delivered": ("配送済み", "Delivered"),
    "status_cancelled": ("取消", "Cancelled"),
    "urgency_critical": ("最優先", "Critical"),
    "urgency_high": ("高", "High"),
    "urgency_medium": ("中", "Medium"),
    "urgency_low": ("低", "Low"),
    # shelter detail
    "shelter_detail": ("避難所の詳細", "Shelter detail"),
    "back": ("概況に戻る", "Back to the overview"),
    "summary": ("概要", "Summary"),
    "address": ("所在地", "Address"),
    "capacity": ("定員", "Capacity"),
    "people_now": ("現在の人数（登録）", "People now (registered)"),
    "last_report": ("最新の報告", "Latest report"),
    "timeline": ("開設状況の記録", "Status history"),
    "care_flags": ("妊娠・乳児", "Pregnancy and infants"),
    "care_flags_note": ("保健部局の情報（応急時のみ表示。ほかの医療情報は受け取りません）。",
                        "From the health department, shown during the emergency response "
                        "only; no other medical information is received."),
    "pregnancy_weeks": ("妊娠{n}週", "Pregnant, week {n}"),
    "pregnant": ("妊娠中", "Pregnant"),
    "infant": ("乳児", "Infants"),
    "infant_months": ("乳児({n}か月)", "Infant ({n} months)"),
    "timeline_empty": ("記録はありません。", "No status recorded."),
    "observed_at": ("報告日時", "Reported at"),
    "count_reported": ("報告人数", "Reported"),
    "day": ("昼", "Day"),
    "night": ("夜", "Night"),
    "no_needs": ("報告された不足物資はありません。", "No needs reported."),
    "shelter_trend": ("この避難所の人数の推移", "People in this shelter over time"),
    "not_found": ("この避難所は見つかりません。", "No such shelter."),
    # search
    "search": ("避難者の検索", "Find a person"),
    "search_intro": ("氏名（漢字・かな、全角・半角どちらでも）で検索します。検索は記録されます。",
                     "Search by name (kanji or kana, any width). Searches are audited."),
    "search_name": ("氏名またはふりがな", "Name or kana"),
    "search_birth": ("生年月日（任意）", "Date of birth (optional)"),
    "search_birth_hint": ("例: 1980-04-01、昭和55年4月1日", "e.g. 1980-04-01"),
    "search_submit": ("検索", "Search"),
    "search_results": ("検索結果: {n}件", "Results: {n}"),
    "search_more": ("{n}件を超えました。条件を絞ってください。",
                    "More than {n} people match; narrow the search."),
    "search_none": ("該当する人はいません。", "Nobody matches."),
    "search_bad": ("氏名を1文字以上、100文字以内で入力してください。",
                   "Enter a name of 1 to 100 characters."),
    "search_bad_birth": ("生年月日を読み取れません。", "The date of birth cannot be read."),
    "search_denied": ("この検索には bosai:person-search の権限が必要です。",
                      "Finding people needs the bosai:person-search scope."),
    # safety inquiries (安否確認)
    "nav_inquiry": ("安否確認", "Safety inquiry"),
    "inquiry": ("安否確認への回答", "Answer a safety inquiry"),
    "inquiry_intro": ("問い合わせのあった方の氏名（漢字またはかな）と生年月日を入力します。"
                      "本人が同意した方についてだけ、同意した項目だけを表示します。"
                      "問い合わせはすべて記録されます。",
                      "Enter the name (kanji or kana) and date of birth asked about. Only "
                      "people who consented are shown, with only what they consented to. "
                      "Every inquiry is audited."),
    "inquiry_birth": ("生年月日", "Date of birth"),
    "inquiry_submit": ("照会", "Look up"),
    "inquiry_found": ("お答えできる情報", "What may be told"),
    "inquiry_denied": ("安否確認への回答には bosai:inquiry の権限が必要です。",
                       "Answering safety inquiries needs the bosai:inquiry scope."),
    "inquiry_bad": ("氏名と生年月日を入力してください。",
                    "Enter a name and a date of birth."),
    "accounted_for": ("安否", "Safety"),
    "accounted_for_yes": ("所在を確認しています", "Accounted for"),
    "stay_type": ("滞在場所の種類", "Kind of stay"),
    "home_address": ("住所", "Home address"),
    "contact": ("連絡先", "Contact"),
    "name": ("氏名", "Name"),
    "kana": ("ふりがな", "Kana"),
    "birth_date": ("生年月日", "Date of birth"),
    "stay_since": ("滞在場所の更新", "Stay updated"),
    "care_categories": ("要配慮", "Care needs"),
    "none": ("なし", "None"),
}

SUPPLY_STATUSES = ("requested", "committed", "delivered", "cancelled")


def t(lang: Lang, key: str, **values: object) -> str:
    text = MESSAGES[key][0 if lang == "ja" else 1]
    return text.format(**values) if values else text


def label(lang: Lang, labels: vocab.Labels, token: str | None, *, inline: bool = False
          ) -> str:
    """A vocabulary token's label (English in sentence case unless ``inline``: within a
    phrase, e.g. a unit after a number); an unknown token as written (escaped when shown)."""
    if token is None:
        return t(lang, "unknown")
    found = labels.get(token) or _by_label(labels, token)
    if not found:
        return token
    return found[0] if lang == "ja" else found[1] if inline else sentence_case(found[1])


def _by_label(labels: vocab.Labels, text: str) -> tuple[str, str] | None:
    """A value written as its label rather than its token (乳幼児 for ``infant``: records
    from other participants do), so the English page can still say it in English."""
    key = text.strip().casefold()
    return next((names for names in labels.values()
                 if key in (names[0], names[1].casefold())), None)


def sentence_case(text: str) -> str:
    """English labels of the vocabulary are lower case (they are also used inside
    sentences); alone in a cell they start with a capital, like the dashboard's own words."""
    return text[:1].upper() + text[1:]


def _need_key(text: str) -> str:
    return normalize_width(text).strip().casefold().replace(" ", "")


_NEED_ITEMS: dict[str, str] = {
    **{_need_key(k): v for k, v in vocab.NEED_SPELLINGS.items()},
    **{_need_key(name): token for token, names in vocab.SUPPLY_ITEMS.items()
       if token != "other" for name in (token, *names)},
}


def need_item(text: str) -> str | None:
    """The ``vocab.SUPPLY_ITEMS`` token a need (不足物資, free text) names, if it names one:
    its Japanese or English label or a known spelling, any width or case."""
    return _NEED_ITEMS.get(_need_key(text))


def known(lang: Lang, prefix: str, token: str) -> str:
    """The label of ``<prefix>_<token>`` (supply statuses, urgencies), else the token as
    written: those come from other participants' records."""
    key = f"{prefix}_{token}"
    return t(lang, key) if key in MESSAGES else token


def age(lang: Lang, elapsed: timedelta) -> str:
    """How long ago, in the unit staff read at a glance: minutes, hours, then days."""
    minutes = max(0, int(elapsed.total_seconds() // 60))
    if minutes < 60:
        return t(lang, "age_minutes", n=minutes)
    if minutes < 48 * 60:
        return t(lang, "age_hours", n=minutes // 60)
    return t(lang, "age_days", n=minutes // (24 * 60))


def when(value: str | datetime | None, *, seconds: bool = False) -> str:
    """A UTC time as Japan time (the staff's clock), e.g. ``2024-04-30 06:00``."""
    if value is None:
        return ""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
    return value.astimezone(JST).strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def pick(value: str | None) -> Lang:
    """``ja`` unless ``en`` was asked for: Japanese first."""
    return "en" if value == "en" else "ja"
