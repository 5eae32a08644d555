"""The steel domain hub."""

from domains.plugin import DomainPlugin

plugin = DomainPlugin(name="steel")
