"""The bosai domain hub."""

from domains.plugin import DomainPlugin

plugin = DomainPlugin(name="bosai")
