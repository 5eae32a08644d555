"""The bosai dataset types: which schema and record type each dataset of the hub uses."""

from domains.bosai import vocab
from domains.plugin import DatasetType

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
        description_ja="避難者（基本4情報、滞在場所、安否情報の開示への同意、要配慮・医療情報）",
        description_en="Evacuees: the 4 basic items, where they stay, consent to disclose, "
                       "care and medical needs"),
}
