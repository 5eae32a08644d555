"""The codes the data-space authority raises or answers with (``trust.errors`` explains the
registry). The error classes stay beside the code that raises them
(``authority.state.AuthorityError``, ``authority.space.GrantRefused``,
``authority.accounts.NatsAccountsError``). A malformed grant request is
``connector.errors.ConnectorCode.GRANT_MALFORMED``: the connector raises it too."""

from __future__ import annotations

from trust.errors import ErrorCode


class AuthorityCode(ErrorCode):
    ERROR = "authority.error", "an authority operation cannot be done as asked"
    EXISTS = "authority.exists", "an authority already exists in this directory"
    BUSY = "authority.busy", "another step holds the authority's lock; try again"
    DIRECTORY = "authority.directory", "the authority directory cannot be created"
    NOT_FOUND = "authority.not_found", "there is no authority in this directory"
    LISTEN = "authority.listen", "the authority cannot listen on the given address"
    STATUS_LIST_FULL = "authority.status_list_full", "the status list has no free index left"
    UNKNOWN_ROLE = ("authority.unknown_role",
                    "a role neither the core nor an installed domain defines")
    UNKNOWN_PARTICIPANT = "authority.unknown_participant", "no participant with this DID"
    ALREADY_REVOKED = "authority.already_revoked", "the participant is already revoked"
    NATS_ACCOUNTS = "nats.accounts", "the data space's NATS accounts cannot be managed as asked"
    GRANT_REFUSED = "grant.refused", "the authority refused to open or close a stream import"
    GRANT_UNKNOWN_MESSAGE = "grant.unknown_message", "the authority handles no such request"
    GRANT_NOT_PARTICIPANT = "grant.not_participant", "the sender is not a live participant"
    GRANT_NOT_PROVIDER = "grant.not_provider", "the sender is not the agreement's provider"
    GRANT_NOT_PARTY = "grant.not_party", "the consumer is not a party to the agreement"
    GRANT_AGREEMENT_ENDED = ("grant.agreement_ended",
                             "the agreement has ended: nothing is granted under it again")
