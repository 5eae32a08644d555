"""The bosai dataset types: which schema and record type each dataset of the hub uses."""

from connector.plugins.contract import DatasetType
from domains.bosai import vocab

DATASET_TYPES = {
    "shelter-status": DatasetType(
        schema=vocab.HERE / "shelter-status.schema.json",
        record_type=vocab.SHELTER_STATUS,
        record_context=vocab.RECORD_CONTEXT,
        description_ja="避難所の開設状況（開設・閉鎖、種別、収容人数、昼夜の避難者数、不足物資）",
        description_en="Shelter status: open or closed, type, capacity, people by day and "
                       "night, needs"),
    "evacuee": DatasetType(
        schema=vocab.HERE / "evacuee.schema.json",
        record_type=vocab.EVACUEE,
        record_context=vocab.RECORD_CONTEXT,
        description_ja="避難者（基本4情報、滞在場所、安否情報の開示への同意、要配慮区分。"
                       "医療的ニーズは medical-needs データセット）",
        description_en="Evacuees: the 4 basic items, where they stay, consent to disclose, "
                       "care needs (the medical part is the medical-needs dataset)"),
    "medical-needs": DatasetType(
        schema=vocab.HERE / "medical-needs.schema.json",
        record_type=vocab.MEDICAL_NEEDS_TYPE,
        record_context=vocab.RECORD_CONTEXT,
        description_ja="医療的ニーズ（人工透析・在宅酸素・アレルギーなど）と、医療チームが本人を"
                       "確認し訪ねるための氏名・生年月日・滞在場所",
        description_en="Medical needs (dialysis, oxygen, allergies ...) with what a medical "
                       "team needs to identify and find the person"),
    "supply-requests": DatasetType(
        schema=vocab.HERE / "supply-request.schema.json",
        record_type=vocab.SUPPLY_REQUEST,
        record_context=vocab.RECORD_CONTEXT,
        description_ja="避難所からの救援物資の要請（品目、数量、緊急度、対象者、状況: 要請中・"
                       "手配済み・配送済み・取消）",
        description_en="Relief supply requests from a shelter: item, quantity, urgency, for "
                       "whom, and status (requested, committed, delivered, cancelled)"),
}
