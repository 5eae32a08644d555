"""The steel (mill sheet) domain hub.

Registers nothing yet. To come: the EN 10168 inspection certificate as a dataset type (JSON
schema from ../shared/specs/en10168-v0.5.0), derived certificates for slit or cut pieces with
a link to and hash of the parent, grade checks (e.g. JIS G 3101 SS400), provenance export for
public works inspections, policy templates for the mill -> trader -> processor chain.
"""

from connector.plugins.contract import DomainPlugin

plugin = DomainPlugin(name="steel", description="鉄鋼: mill sheets")
