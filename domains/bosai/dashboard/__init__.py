"""The municipality dashboard of the bosai hub, served by the connector (aiohttp, no internet).

Modules, one idea each:

* ``queries``  every read: SQL over the hub's stores (shelters, registry, supplies)
* ``trend``    people in shelters over time, kept incrementally from the stay history
* ``markup``   escaped-by-default HTML building (the only way text reaches a page)
* ``i18n``     every string, Japanese first, English second
* ``chart``    the trend chart as server-drawn inline SVG
* ``views``    pages and their live sections
* ``auth``     scopes, staff sessions from app API tokens, same-origin checks
* ``live``     Server-Sent Events of re-rendered sections, fed by the hub's ChangeFeed
* ``app``      the aiohttp sub-application (routes, headers, static assets)
"""
