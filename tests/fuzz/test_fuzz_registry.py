"""Property: evacuee registry inputs from outside (CSV files, forms) raise only TsunaguError."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from domains.bosai.registry.csv_import import read_csv
from domains.bosai.registry.forms import parse_form
from tests.fuzz.strategies import FUZZ, json_values, only_typed

HEADER = "氏名,フリガナ,生年月日,性別,住所,電話番号,安否情報の開示\n"
CELLS = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30) | \
    st.sampled_from(["山田 太郎", "ヤマダ タロウ", "昭和55年3月1日", "R6.4.30", "男", "女",
                     "宮城県仙台市青葉区国分町3-7-1", "1234 5678 9012", "はい", "", "\"", "\n"])


@FUZZ
@given(st.binary(max_size=400))
def test_read_csv_arbitrary_bytes(data):
    only_typed(lambda: read_csv(data))


@FUZZ
@given(st.lists(st.lists(CELLS, min_size=0, max_size=9), max_size=6))
def test_read_csv_rows_under_the_usual_header(rows):
    text = HEADER + "".join(",".join(f'"{c}"' if "," in c else c for c in row) + "\n"
                            for row in rows)
    only_typed(lambda: read_csv(text))


@FUZZ
@given(json_values(6) | st.dictionaries(
    st.sampled_from(["familyName", "givenName", "familyNameKana", "givenNameKana", "birthDate",
                     "sex", "address", "consentToDisclose", "contact", "stayLocation",
                     "careNeeds", "household"]), json_values(3) | CELLS, max_size=12))
def test_parse_form_random(form):
    only_typed(lambda: parse_form(form))
