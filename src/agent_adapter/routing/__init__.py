"""Routing: one model name over several deployments, with strategies, fallbacks and hedging.

``router.py`` holds ``Router`` and ``Deployment``, ``strategies.py`` the
orders a group is tried in, ``fallback.py`` which error goes where,
``hedge.py`` hedged requests, ``stream.py`` the routed stream.
"""
