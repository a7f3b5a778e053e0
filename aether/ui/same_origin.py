"""Whether a request that changes a run comes from the UI's own pages.

A page of another site can make a browser send a POST here (a form, an image, a script),
with the browser's cookies, so an action must prove where it comes from. Browsers say it
themselves: ``Sec-Fetch-Site`` (every current browser) names the relation of the sending
page to this server, and ``Origin`` (every browser, on every cross-origin POST) names the
sending page's origin, which must then be this server's (asked when the browser is too old
to send the first). A request with neither does not
come from a browser page (a script of the user's own, ``curl``); the token, when one is
set, guards those.
"""

from __future__ import annotations

from starlette.requests import Request

# ``none``: the user's own doing (typed, bookmarked); never a page's.
TRUSTED_FETCH_SITES = frozenset({"same-origin", "none"})


def refusal(request: Request) -> str | None:
    """Why ``request`` must be refused as coming from another site; None when it need not."""
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None:
        # Set by the browser alone (no page can), and right behind a proxy that changes the
        # scheme or host, where comparing ``Origin`` would not be.
        return (
            None if fetch_site in TRUSTED_FETCH_SITES else f"a page of another site ({fetch_site}) cannot act on runs"
        )
    origin = request.headers.get("origin")
    if origin is not None and origin != own_origin(request):
        return f"a page of {origin} cannot act on runs"
    return None


def own_origin(request: Request) -> str:
    """This server's origin as the request addressed it (``scheme://host[:port]``)."""
    host = request.headers.get("host") or request.url.netloc
    return f"{request.url.scheme}://{host}"
