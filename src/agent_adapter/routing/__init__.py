"""Routing: one model name over several deployments, with strategies, fallbacks and hedging.

``router.py`` holds ``Router`` (``deployment.py`` its ``Deployment`` and the
checked groups it runs), ``strategies.py`` the orders a group is tried in,
``fallback.py`` which error goes where, ``hedge.py`` hedged requests,
``stream.py`` the routed stream.
"""
