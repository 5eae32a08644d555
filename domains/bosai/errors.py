"""The codes the bosai hub raises (``trust.errors`` explains the registry). The error classes
stay beside the code that raises them (``registry.errors``, ``checkin``, ``importers``, ...);
their HTTP statuses are declared with the plug-in (``domains.bosai.api.HTTP_STATUSES``)."""

from __future__ import annotations

from trust.errors import ErrorCode


class BosaiCode(ErrorCode):
    # The hub
    HUB_UNAVAILABLE = ("bosai.hub_unavailable",
                       "this hub is not set up for what was asked (a shelter operator's part)")
    RECORD_NOT_HELD = "bosai.record_not_held", "this connector holds no live copy of the record"
    # The evacuee registry
    REGISTRY_ERROR = "bosai.registry_error", "a registry operation cannot be done as asked"
    INPUT_INVALID = ("bosai.input_invalid",
                     "an input (form, CSV row, card) is missing a field or has an unusable value")
    CSV_INVALID = "bosai.csv_invalid", "the CSV file cannot be read"
    CSV_COLUMNS = "bosai.csv_columns", "a CSV row does not have the header's columns"
    PERSON_NOT_FOUND = "bosai.person_not_found", "no person with this id in the registry"
    REVIEW_NOT_FOUND = "bosai.review_not_found", "no review with this id"
    REVIEW_DECIDED = ("bosai.review_decided",
                      "the review was already decided (or made moot by another merge)")
    VERSION_CONFLICT = "bosai.version_conflict", "the person changed since the version given"
    CARD_INVALID = "bosai.card_invalid", "a card credential was refused"
    CARD_MALFORMED = "bosai.card_malformed", "the card credential is malformed"
    CARD_UNTRUSTED_ISSUER = ("bosai.card_untrusted_issuer",
                             "the card is not issued by a trusted municipality")
    CARD_SIGNATURE = "bosai.card_signature", "the card's signature does not verify"
    CARD_NOT_YET_VALID = "bosai.card_not_yet_valid", "the card is not valid yet"
    CARD_EXPIRED = "bosai.card_expired", "the card has expired"
    # Check-ins (the holder's rule for contributions to Evacuee records)
    CHECK_IN_REFUSED = "bosai.check_in_refused", "a check-in or check-out was refused"
    NOT_CHECKED_IN = "bosai.not_checked_in", "the person is not checked in at that shelter"
    NOT_A_CHECK_IN = ("bosai.not_a_check_in",
                      "a shelter operator changes a stay only by a check-in or check-out")
    CHECK_IN_TIME = "bosai.check_in_time", "the check-in time is in the future"
    SHELTER_CLOSED = "bosai.shelter_closed", "the shelter is closed"
    SHELTER_UNKNOWN = "bosai.shelter_unknown", "the shelter is unknown to this municipality"
    # Supplies
    SUPPLY_INVALID = "supply.invalid", "a supply request change is invalid"
    SUPPLY_NOT_ALLOWED = "supply.not_allowed", "this party may not take this step"
    SUPPLY_BAD_TRANSITION = ("supply.bad_transition",
                             "the step is not allowed from the request's current status")
    SUPPLY_FIELD_NOT_ALLOWED = ("supply.field_not_allowed",
                                "the step changes fields it may not")
    # Importers (shelter lists, status snapshots)
    IMPORT_SOURCE = "bosai.import.source", "the import file cannot be used"
    IMPORT_UNREADABLE = "bosai.import.unreadable", "the import file cannot be read"
    IMPORT_FORMAT = "bosai.import.format", "the import file is not in a format understood"
    IMPORT_REDACTION = ("bosai.import.redaction",
                        "the file could not be searched for My Numbers, so it is not kept")
    IMPORT_ENCODING = "bosai.import.encoding", "a row is not in the file's encoding"
    IMPORT_SHAPE = "bosai.import.shape", "a row does not have the header's columns"
    IMPORT_CELL = "bosai.import.cell", "a cell's value cannot be used"
    IMPORT_ID = "bosai.import.id", "a row's id is missing or too long"
    IMPORT_DUPLICATE = "bosai.import.duplicate", "a row repeats an id already in the file"
    IMPORT_NAME = "bosai.import.name", "a row's name is missing"
    IMPORT_MUNICIPALITY_CODE = ("bosai.import.municipality_code",
                                "a 全国地方公共団体コード is missing or wrong")
    IMPORT_COORDINATES = "bosai.import.coordinates", "the coordinates are missing or unusable"
    IMPORT_CAPACITY = "bosai.import.capacity", "a capacity cannot be read"
    IMPORT_COUNT = "bosai.import.count", "a head count cannot be read"
    IMPORT_TIMESTAMP = "bosai.import.timestamp", "a row's time is missing or unreadable"
    IMPORT_OPEN = "bosai.import.open", "whether the shelter is open cannot be told"
    IMPORT_TYPE = "bosai.import.type", "a shelter type is unknown"
    MAPPING_INVALID = "bosai.mapping.invalid", "a column mapping is invalid"
    MAPPING_COLUMNS = "bosai.mapping.columns", "the file lacks columns the mapping names"
