"""Routing: one model name over several deployments, with strategies and fallbacks.

``router.py`` holds ``Router`` (``deployment.py`` its ``Deployment`` and the
checked groups it runs), ``strategies.py`` the orders a group is tried in,
``fallback.py`` which error goes where, ``stream.py`` the routed stream.
"""
