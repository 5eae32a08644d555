"""The local app API (aiohttp) and its event stream; the SDK apps use is connector.sdk."""
