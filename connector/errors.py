"""The codes the connector raises, answers with on the bus, or puts in DSP messages.

One enum for the whole layer (``trust.errors`` explains the registry): the error classes stay
beside the code that raises them (``connector.data.records.RecordError``, ...) and take their
codes from here. A code the trust layer already has (``input.invalid``, ``did.invalid``,
``credential.revoked``) is ``trust.errors.TrustCode``'s, not repeated here. What a code means
over HTTP is ``connector.api.problems``'s business.
"""

from __future__ import annotations

from trust.errors import ErrorCode


class ConnectorCode(ErrorCode):
    # The app API
    API_NOT_FOUND = "api.not_found", "the API has no such thing"
    RECORD_NOT_FOUND = "record.not_found", "no record with this id here"
    NEGOTIATION_NOT_FOUND = "negotiation.not_found", "no negotiation process with this id here"
    TRANSFER_NOT_FOUND = "transfer.not_found", "no transfer process with this id here"
    FEATURE_UNAVAILABLE = ("feature.unavailable",
                           "this connector runs without the service the route needs")
    INTERNAL_ERROR = "internal.error", "the connector failed to handle the request (see its log)"
    SERVICE_NOT_READY = "service.not_ready", "the connector is not ready (NATS or store away)"
    API_BUSY = "api.busy", ("the connector has as many record writes in flight as it takes: "
                            "send again after Retry-After")
    PORT_IN_USE = "port.in_use", "a port to listen on is taken by another program"
    AUTH_MISSING = "auth.missing", "no bearer token was given"
    AUTH_INVALID = "auth.invalid", "the bearer token is not a tsunagu token, unknown or revoked"
    AUTH_EXPIRED = "auth.expired", "the bearer token has expired"
    AUTH_SCOPE = "auth.scope", "the token does not have the scope the route needs"
    # Staff accounts: persons logging in (connector.api.staff)
    STAFF_LOGIN_FAILED = ("staff.login_failed",
                          "the login name or password is wrong (the same answer for both)")
    STAFF_TOTP_WRONG = "staff.totp_wrong", "the one-time code (TOTP) is wrong"
    STAFF_TOTP_REPLAYED = ("staff.totp_replayed",
                           "the one-time code was already used; wait for the next one")
    STAFF_LOCKED = "staff.locked", "too many failed logins: the account is locked for a while"
    STAFF_DISABLED = "staff.disabled", "the staff account is disabled"
    STAFF_UNKNOWN = "staff.unknown", "no staff account or session with this name or id"
    STAFF_EXISTS = "staff.exists", "a staff account with this login name or link exists"
    OIDC_NOT_CONFIGURED = ("oidc.not_configured",
                           "this connector has no OpenID Connect provider configured")
    OIDC_PROVIDER = ("oidc.provider_error",
                     "the OpenID Connect provider did not answer as expected")
    OIDC_WRONG_STATE = ("oidc.wrong_state",
                        "the login answer does not belong to a login this browser started")
    OIDC_INVALID_TOKEN = "oidc.invalid_token", "the ID token is malformed"
    OIDC_BAD_SIGNATURE = ("oidc.bad_signature",
                          "the ID token is not signed by a key of the configured provider")
    OIDC_WRONG_ISSUER = "oidc.wrong_issuer", "the ID token is from another issuer"
    OIDC_WRONG_AUDIENCE = "oidc.wrong_audience", "the ID token is for another client"
    OIDC_EXPIRED = "oidc.expired", "the ID token has expired"
    OIDC_WRONG_NONCE = "oidc.wrong_nonce", "the ID token's nonce is not this login's"
    OIDC_NOT_LINKED = ("oidc.not_linked",
                       "the provider's account is not linked to a staff account here")
    # The store
    STORE_UNAVAILABLE = "store.unavailable", "the store cannot be read or written now"
    STORE_VERSION = "store.version", "the store's schema version is not the one this code needs"
    STORE_MIGRATION_FAILED = ("store.migration_failed",
                              "a store migration failed; the store was left as it was")
    STORE_NOT_FOUND = "store.not_found", "there is no store file at the given path"
    # NATS
    NATS_CONNECT = "nats.connect", "the NATS server cannot be reached"
    NATS_SERVER = "nats.server", "the nats-server child process cannot be started or run"
    # The signed bus
    REMOTE_ERROR = "remote.error", "the other participant answered with an error"
    REMOTE_UNREACHABLE = "remote.unreachable", "the other participant did not answer"
    INTERNAL = "internal", "the other participant failed to handle the message"
    ENVELOPE_BAD_SUBJECT = ("envelope.bad_subject",
                            "the subject's sender token is not a participant id")
    ENVELOPE_SUBJECT_MISMATCH = ("envelope.subject_mismatch",
                                 "the subject names another sender than the envelope")
    ENVELOPE_UNEXPECTED_SENDER = ("envelope.unexpected_sender",
                                  "the reply is signed by another participant than asked")
    # This connector's identity
    CREDENTIAL_MISSING = "credential.missing", "the connector has no credential file"
    BACKUP_INVALID = ("backup.invalid",
                      "a backup cannot be written or restored (passphrase, file or target)")
    START_MISSING = ("start.missing",
                     "the connector lacks something it needs to start (named with its fix)")
    CREDENTIAL_SUBJECT_MISMATCH = ("credential.subject_mismatch",
                                   "the credential is issued for another key")
    JOIN_UNREACHABLE = ("join.unreachable",
                        "the authority's data-space announcement cannot be fetched")
    UNKNOWN_ROLE = ("setup.unknown_role",
                    "a role that neither the core nor an installed domain defines")
    CREDENTIAL_REQUEST_BAD_SIGNATURE = ("credential_request.bad_signature",
                                        "a credential request is not signed by its key")
    KEY_ROTATION_REQUEST_INVALID = ("key_rotation_request.invalid",
                                    "a key rotation request is malformed or not signed by "
                                    "the keys it names")
    # DSP
    DSP_INVALID_MESSAGE = "dsp.invalid_message", "the message is not a valid DSP message"
    DSP_TOO_DEEP = "dsp.too_deep", "the message is nested too deeply to be validated"
    DSP_TOO_LARGE = "dsp.too_large", "the message is too large to be validated"
    DSP_UNKNOWN_MESSAGE = "dsp.unknown_message", "this connector handles no such message type"
    DSP_UNKNOWN_PROCESS = "dsp.unknown_process", "no process with this id"
    DSP_PROCESS_MISMATCH = "dsp.process_mismatch", "the message names another process"
    DSP_INVALID_TRANSITION = ("dsp.invalid_transition",
                              "the message is not allowed in the process's state")
    DSP_NOT_READY = "dsp.not_ready", "the process is not in a state that allows this yet"
    # DSP over HTTPS (connector.dsp_http)
    DSP_HTTP_PATH_MISMATCH = ("dsp_http.path_mismatch",
                              "the request path names another process or message than its body")
    DSP_HTTP_NO_PEER = ("dsp_http.no_peer",
                        "no DSP over HTTPS address is known for this participant")
    DSP_HTTP_UNSIGNED_REPLY = ("dsp_http.unsigned_reply",
                               "the counterparty's HTTPS answer carries no valid ID token")
    EDR_INVALID = ("edr.invalid",
                   "the data address token is missing, forged, expired or for another transfer")
    EDR_INACTIVE = ("edr.inactive",
                    "the transfer or agreement the data address token names is not active")
    CATALOG_ERROR = "catalog.error", "the provider refused the catalog request"
    CATALOG_FILTER_UNSUPPORTED = ("catalog.filter_unsupported",
                                  "this connector does not support catalog filters")
    # Datasets and records
    DATASET_INVALID = "dataset.invalid", "a dataset entry is invalid"
    DATASET_NOT_FOUND = "dataset.not_found", "this connector offers no such dataset"
    DATASET_SCHEMA_INVALID = "dataset.schema_invalid", "a dataset's record schema is invalid"
    RECORD_INVALID = "record.invalid", "a record is invalid"
    RECORD_TOO_LARGE = "record.too_large", "a record is too large"
    RECORD_SCHEMA_INVALID = ("record.schema_invalid",
                             "a record does not validate against its dataset's schema")
    RECORD_WRONG_DATASET = "record.wrong_dataset", "the record belongs to another dataset"
    RECORD_BATCH_TOO_LARGE = "record.batch_too_large", "a batch has too many records"
    RECORD_VERSION_CONFLICT = ("record.version_conflict",
                               "the record's current version is not the one expected")
    RECORD_MALFORMED = "record.malformed", "a received record is not JSON with id and version"
    RECORD_REFUSED = "record.refused", "a received record was refused"
    RECORD_UNSEALED = ("record.unsealed",
                       "a received record was not sealed to the agreement (trust.sealing)")
    CONTENT_KEY_UNAVAILABLE = ("content_key.unavailable",
                               "the provider did not answer for a stream's content key")
    CONTENT_KEY_REFUSED = ("content_key.refused",
                           "no content key for this agreement and epoch (ended, or unknown)")
    REFUSAL_INVALID = "refusal.invalid", "a refusal notice is malformed"
    REFUSAL_UNKNOWN = "refusal.unknown", "a refusal notice names nothing sent to its sender"
    # Negotiations and agreements
    NEGOTIATION_UNKNOWN_DATASET = ("negotiation.unknown_dataset",
                                   "the request names a dataset not offered")
    NEGOTIATION_UNKNOWN_OFFER = "negotiation.unknown_offer", "the request names an unknown offer"
    NEGOTIATION_OFFER_CHANGED = ("negotiation.offer_changed",
                                 "the offer asked for differs from the one offered")
    NEGOTIATION_POLICY_DENIED = ("negotiation.policy_denied",
                                 "the offer's policy does not allow the consumer")
    NEGOTIATION_TERMINATED = "negotiation.terminated", "the negotiation was terminated"
    AGREEMENT_INVALID = "agreement.invalid", "an agreement is invalid"
    AGREEMENT_UNKNOWN = "agreement.unknown", "no agreement with this id"
    AGREEMENT_INACTIVE = "agreement.inactive", "the agreement is no longer active"
    AGREEMENT_MISMATCH = "agreement.mismatch", "the agreement differs from the one negotiated"
    AGREEMENT_TERMINATED = "agreement.terminated", "the provider terminated the agreement"
    GRANT_MALFORMED = "grant.malformed", "a stream grant request or answer is malformed"
    # Transfers
    TRANSFER_REFUSED = "transfer.refused", "the transfer request was refused"
    TRANSFER_UNKNOWN_AGREEMENT = ("transfer.unknown_agreement",
                                  "the transfer names no agreement held")
    TRANSFER_NOT_ASSIGNEE = ("transfer.not_assignee",
                             "the requester is not the agreement's assignee")
    TRANSFER_AGREEMENT_INACTIVE = ("transfer.agreement_inactive",
                                   "the transfer's agreement is no longer active")
    TRANSFER_UNSUPPORTED_FORMAT = ("transfer.unsupported_format",
                                   "the transfer asks for a format not offered")
    TRANSFER_NO_STREAM = "transfer.no_stream", "the dataset stream cannot be read"
    TRANSFER_NO_GRANT = "transfer.no_grant", "the authority did not open the stream"
    TRANSFER_BAD_ADDRESS = "transfer.bad_address", "the data address cannot be used"
    TRANSFER_SUSPENDED = "transfer.suspended", "the transfer was suspended"
    TRANSFER_TERMINATED = "transfer.terminated", "the transfer was terminated"
    TRANSFER_WRITE_ONLY = ("transfer.write_only",
                           "the agreement grants changes to the provider's records only, no "
                           "reading: there is nothing to transfer")
    # Contributions
    CONTRIBUTION_INVALID = "contribution.invalid", "the change is malformed"
    CONTRIBUTION_REFUSED = "contribution.refused", "the holder refused the change"
    CONTRIBUTION_CONFLICT = ("contribution.conflict",
                             "the change's base version is not the current one")
    CONTRIBUTION_BAD_SIGNATURE = ("contribution.bad_signature",
                                  "the change is not signed by its sender")
    CONTRIBUTION_WRONG_PARTY = ("contribution.wrong_party",
                                "the change names another contributor or holder")
    CONTRIBUTION_DUPLICATE_ID = ("contribution.duplicate_id",
                                 "another change already has this id")
    CONTRIBUTION_UNKNOWN_AGREEMENT = ("contribution.unknown_agreement",
                                      "the change names no agreement held")
    CONTRIBUTION_NOT_ASSIGNEE = ("contribution.not_assignee",
                                 "the contributor is not the agreement's assignee")
    CONTRIBUTION_AGREEMENT_INACTIVE = ("contribution.agreement_inactive",
                                       "the change's agreement is no longer active")
    CONTRIBUTION_UNKNOWN_RECORD = ("contribution.unknown_record",
                                   "the change names a record not under the agreement")
    CONTRIBUTION_NOT_GRANTED = ("contribution.not_granted",
                                "the agreement grants no change to this record")
    CONTRIBUTION_FIELD_NOT_ALLOWED = ("contribution.field_not_allowed",
                                      "the change touches a field it may not")
    CONTRIBUTION_DENIED = "contribution.denied", "the agreement's policy denies the change"
    CONTRIBUTION_RULE_VIOLATED = ("contribution.rule_violated",
                                  "the change breaks a rule of the record's domain")
    CONTRIBUTION_INVALID_RECORD = ("contribution.invalid_record",
                                   "the revised record would not be valid")
    # The usage gate
    USAGE_DENIED = "usage.denied", "the use is not permitted"
    USAGE_NOT_HELD = "usage.not_held", "this connector holds no such record or agreement"
    USAGE_OUT_OF_SCOPE = ("usage.out_of_scope",
                          "the record is not about a party the reader is linked to")
    USAGE_AGREEMENT_INACTIVE = ("usage.agreement_inactive",
                                "the agreement the record is held under is no longer active")
    USAGE_PURPOSE_MISSING = "usage.purpose_missing", "the read declares no purpose"
    USAGE_CONSENT_WITHDRAWN = ("usage.consent_withdrawn",
                               "the person the record is about withdrew consent to its use")
    # Residents' rights (connector.data.residents): disclosure, correction, withdrawal
    RESIDENTS_NOT_THE_SUBJECT = ("residents.not_the_subject",
                                 "the caller is neither the person named nor staff assisting "
                                 "them")
    RESIDENTS_INVALID = "residents.invalid", "a residents' rights request is malformed"
    RESIDENTS_UNKNOWN_AGREEMENT = ("residents.unknown_agreement",
                                   "the message names no agreement with its sender")
    CORRECTION_NOT_FOUND = "correction.not_found", "no correction request with this id here"
    CORRECTION_DECIDED = ("correction.decided",
                          "the correction request was accepted or refused already")
    CORRECTION_FIELD_NOT_ALLOWED = ("correction.field_not_allowed",
                                    "the field is set by the holder, not corrected by request")
    FACT_INVALID = "fact.invalid", "a fact names no known left operand or cannot be set"
    AUDIT_BROKEN_CHAIN = "audit.broken_chain", "the audit log's hash chain is broken"
    # Plug-ins
    PLUGIN_INVALID = "plugin.invalid", "a domain plug-in is invalid"
    PLUGIN_CONFLICT = "plugin.conflict", "a domain plug-in conflicts with another or the core"
    PLUGIN_UNKNOWN_DATASET_TYPE = ("plugin.unknown_dataset_type",
                                   "no active plug-in defines this dataset type")
