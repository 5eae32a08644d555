"""The full set of services a participant's connector runs, in start order."""

from __future__ import annotations

from typing import Any

from connector.agreements import AgreementService
from connector.api.app import ApiServer
from connector.catalog_client import CatalogClient
from connector.config import ConnectorConfig
from connector.contributions import ContributionService
from connector.datasets import DatasetService
from connector.negotiations import NegotiationService
from connector.plugins import DomainService, load_domain_plugins
from connector.records import RecordService
from connector.runtime import Connector, Service
from connector.transfers import TransferService
from connector.usage import UsageService
from trust.credentials import StatusListProvider


def default_services(*, api: bool = True) -> list[Service]:
    """Data plane first (datasets, records), then contracts, transfers, usage; API last so
    no app request arrives before the services it calls have resumed their work."""
    plugins = load_domain_plugins()
    services: list[Any] = [DatasetService(), RecordService(), AgreementService(),
                           NegotiationService(), TransferService(), UsageService(),
                           ContributionService(), CatalogClient()]
    services += [DomainService(p.name, p.service()) for p in plugins if p.service is not None]
    if api:
        services.append(ApiServer(plugins=plugins))
    return services


def build_connector(config: ConnectorConfig, *, api: bool = True,
                    status_lists: StatusListProvider | None = None) -> Connector:
    return Connector(config, services=default_services(api=api), status_lists=status_lists)
