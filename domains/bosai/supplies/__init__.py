"""Relief supplies (救援物資): shelters post needs, a supplies participant commits and delivers.

The shapes follow OASIS EDXL-RM loosely: a shelter's RequestResource is a ``SupplyRequest``
record in the shelter operator's own dataset; the supplier answers with CommitResource
(``committed``) and reports delivery (``delivered``) as field-scoped contributions to that
record (connector.contributions), so the holder keeps the one authoritative copy and every
subscriber (the municipality's dashboard, the supplier) sees each step as a new version.
``lifecycle`` is the pure state machine both sides apply.
"""
