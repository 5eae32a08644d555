"""The pmh domain hub."""

from domains.plugin import DomainPlugin

plugin = DomainPlugin(name="pmh")
